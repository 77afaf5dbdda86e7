//! The encoding of an `Action` on the write path: the exact bytes `postcard` produces for it
//! (the reader decodes records with postcard), written straight into the caller's buffer
//! without serde's per-field machinery, which cost more than the simulation itself.
//!
//! Postcard's rules, as far as `Action` needs them: an enum is its variant index as a varint,
//! then its fields; `u8` is one raw byte; `u16`, `u32` and `u64` are LEB128 varints; a `Vec`
//! is its length as a varint, then its elements. The patterns below name every field, so a
//! field added to an event type fails to compile here instead of writing other bytes, and
//! the tests compare with postcard itself.
//!
//! The bytes go to an `Out`: a `Vec`, or a `Cursor` over a buffer known to have room, which
//! stores each byte without the `Vec`'s capacity test and growth path, and a varint of up to 8
//! bytes as one word.

use crate::event::{Action, CustomerRef, Line, NewOrder, OrderStatus};
use crate::world::names::Persona;

/// Where encoded bytes go.
pub trait Out {
    fn byte(&mut self, byte: u8);

    /// A LEB128 varint, as `format::push_varint` writes it.
    #[inline(always)]
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.byte((value as u8) | 0x80);
            value >>= 7;
        }
        self.byte(value as u8);
    }
}

impl Out for Vec<u8> {
    fn byte(&mut self, byte: u8) {
        self.push(byte);
    }
}

/// Writes from `pos` on into a slice the caller sized for what it writes (a write past its
/// end is a bug and panics on the bounds check). A varint goes in as one 8-byte store when the
/// slice has 8 bytes from `pos` on (only its own bytes count: the rest are overwritten by what
/// follows, or lie past the end of what was written); `CURSOR_SLACK` more bytes of room make
/// that the case for every varint.
pub struct Cursor<'a> {
    pub buf: &'a mut [u8],
    pub pos: usize,
}

/// Room a `Cursor` needs past the end of what it writes for every varint to be one store.
pub const CURSOR_SLACK: usize = 8;

impl Out for Cursor<'_> {
    #[inline(always)]
    fn byte(&mut self, byte: u8) {
        self.buf[self.pos] = byte;
        self.pos += 1;
    }

    #[inline(always)]
    fn varint(&mut self, value: u64) {
        if value < 0x80 {
            self.byte(value as u8);
            return;
        }
        match (varint_word(value), self.buf.get_mut(self.pos..self.pos + 8)) {
            (Some((word, len)), Some(dst)) => {
                dst.copy_from_slice(&word.to_le_bytes());
                self.pos += len;
            }
            _ => {
                let mut value = value;
                while value >= 0x80 {
                    self.byte((value as u8) | 0x80);
                    value >>= 7;
                }
                self.byte(value as u8);
            }
        }
    }
}

/// The LEB128 encoding of `value` (at least 2^7) in the low bytes of a word, and its length;
/// None from 2^56 on (9 bytes and more). The two- and three-byte cases come first: they are the
/// order numbers, delays and totals of a simulation.
#[inline(always)]
fn varint_word(value: u64) -> Option<(u64, usize)> {
    debug_assert!(value >= 0x80);
    let low = (value & 0x7f) | 0x80;
    if value < 1 << 14 {
        Some((low | (value >> 7) << 8, 2))
    } else if value < 1 << 21 {
        Some((
            low | ((value >> 7) & 0x7f | 0x80) << 8 | (value >> 14) << 16,
            3,
        ))
    } else if value < 1 << 56 {
        let mut word = 0;
        for i in 0..8 {
            word |= ((value >> (7 * i)) & 0x7f) << (8 * i);
        }
        // 4 to 8 bytes; every byte but the last has its continuation bit.
        let len = (64 - value.leading_zeros() as usize).div_ceil(7);
        let more = 0x8080_8080_8080_8080 & ((1u64 << (8 * (len - 1))) - 1);
        Some((word | more, len))
    } else {
        None
    }
}

/// Lines in a `NewOrder` up to which `MAX_BOUNDED_LEN` bounds its encoding (the simulator's orders
/// have at most `sim::model::MAX_LINES_AT_CREATION`; a recorded event may have more).
pub const BOUNDED_LINES: usize = 16;

/// The longest encoding of an action whose `NewOrder` has at most `BOUNDED_LINES` lines: a
/// varint of a `u64` takes at most 10 bytes, of a `u32` 5, of a `u16` 3.
pub const MAX_BOUNDED_LEN: usize = 1 + 5 + 1 + 5 + 5 + 3 + 3 + 1 + BOUNDED_LINES * (1 + 5 + 1) + 10;

/// Whether `MAX_BOUNDED_LEN` bounds the encoding of `action`.
pub fn is_bounded(action: &Action) -> bool {
    !matches!(action, Action::NewOrder(o) if o.lines.len() > BOUNDED_LINES)
}

/// Appends the postcard encoding of `action` to `out`. Inlined into its caller, so that a
/// `Cursor`'s position stays in a register instead of going through memory at every byte.
#[inline(always)]
pub fn push_action(out: &mut impl Out, action: &Action) {
    match action {
        Action::NewCustomer {
            customer,
            home_store,
            persona,
        } => {
            out.byte(0);
            out.varint(u64::from(*customer));
            out.varint(u64::from(*home_store));
            push_persona(out, persona);
        }
        Action::NewOrder(NewOrder {
            order,
            customer,
            store,
            window_start_min,
            window_len_min,
            lines,
            total_cents,
        }) => {
            out.byte(1);
            out.varint(u64::from(*order));
            match customer {
                CustomerRef::Existing(i) => {
                    out.byte(0);
                    out.varint(u64::from(*i));
                }
                CustomerRef::New(n) => {
                    out.byte(1);
                    out.varint(u64::from(*n));
                }
            }
            out.varint(u64::from(*store));
            out.varint(u64::from(*window_start_min));
            out.varint(u64::from(*window_len_min));
            out.varint(lines.len() as u64);
            for line in lines {
                push_line(out, line);
            }
            out.varint(*total_cents);
        }
        Action::Transition { order, from, to } => {
            out.byte(2);
            out.varint(u64::from(*order));
            out.byte(status_index(*from));
            out.byte(status_index(*to));
        }
        Action::AddLine {
            order,
            line,
            total_cents,
        } => {
            out.byte(3);
            out.varint(u64::from(*order));
            push_line(out, line);
            out.varint(*total_cents);
        }
        Action::RemoveLine {
            order,
            seq,
            total_cents,
        } => {
            out.byte(4);
            out.varint(u64::from(*order));
            out.byte(*seq);
            out.varint(*total_cents);
        }
        Action::InventoryUpdate { item, stock_level } => {
            out.byte(5);
            out.varint(u64::from(*item));
            out.varint(u64::from(*stock_level));
        }
    }
}

#[inline(always)]
fn push_line(out: &mut impl Out, line: &Line) {
    let Line {
        seq,
        product,
        quantity,
    } = line;
    out.byte(*seq);
    out.varint(u64::from(*product));
    out.byte(*quantity);
}

#[inline(always)]
fn push_persona(out: &mut impl Out, persona: &Persona) {
    let Persona {
        first,
        last,
        street,
        house_number,
    } = persona;
    for field in [first, last, street, house_number] {
        out.varint(u64::from(*field));
    }
}

/// The variant index, one byte: fewer than 128 variants encode as a one-byte varint.
fn status_index(status: OrderStatus) -> u8 {
    match status {
        OrderStatus::Created => 0,
        OrderStatus::Picking => 1,
        OrderStatus::OutForDelivery => 2,
        OrderStatus::Delivered => 3,
        OrderStatus::Cancelled => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn assert_like_postcard(action: &Action) {
        let mut ours = vec![0xAA]; // appends, never overwrites
        push_action(&mut ours, action);
        let theirs = postcard::to_stdvec(action).unwrap();
        assert_eq!(&ours[1..], &theirs[..], "{action:?}");
        // The cursor writes the same bytes, within the bound when one applies.
        let room = if is_bounded(action) {
            MAX_BOUNDED_LEN
        } else {
            theirs.len()
        };
        let mut buf = vec![0xAA; room + 1];
        let mut cursor = Cursor {
            buf: &mut buf,
            pos: 1,
        };
        push_action(&mut cursor, action);
        let end = cursor.pos;
        assert_eq!(&buf[1..end], &theirs[..], "{action:?}");
    }

    /// Values at varint length boundaries, and random ones of random widths, within `max`
    /// (a power of two minus one).
    fn value(rng: &mut ChaCha8Rng, max: u64) -> u64 {
        const EDGES: [u64; 9] = [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            u64::MAX,
        ];
        if rng.random_bool(0.3) {
            EDGES[rng.random_range(0..EDGES.len())].min(max)
        } else {
            // A random width first, so short and long varints are equally common.
            let bits = rng.random_range(0..=64u32);
            let v = rng.random::<u64>().checked_shr(64 - bits).unwrap_or(0);
            v & max
        }
    }

    fn status(rng: &mut ChaCha8Rng) -> OrderStatus {
        OrderStatus::ALL[rng.random_range(0..OrderStatus::ALL.len())]
    }

    fn line(rng: &mut ChaCha8Rng) -> Line {
        Line {
            seq: rng.random(),
            product: value(rng, u32::MAX.into()) as u32,
            quantity: rng.random(),
        }
    }

    fn action(rng: &mut ChaCha8Rng) -> Action {
        let u32v = |rng: &mut ChaCha8Rng| value(rng, u32::MAX.into()) as u32;
        let u16v = |rng: &mut ChaCha8Rng| value(rng, u16::MAX.into()) as u16;
        match rng.random_range(0..6) {
            0 => Action::NewCustomer {
                customer: u32v(rng),
                home_store: u32v(rng),
                persona: Persona {
                    first: u16v(rng),
                    last: u16v(rng),
                    street: u16v(rng),
                    house_number: u16v(rng),
                },
            },
            1 => Action::NewOrder(NewOrder {
                order: u32v(rng),
                customer: if rng.random() {
                    CustomerRef::Existing(u32v(rng))
                } else {
                    CustomerRef::New(u32v(rng))
                },
                store: u32v(rng),
                window_start_min: u16v(rng),
                window_len_min: u16v(rng),
                // Up to 200 lines: the line count itself crosses the one-byte varint.
                lines: (0..rng.random_range(0..=200)).map(|_| line(rng)).collect(),
                total_cents: value(rng, u64::MAX),
            }),
            2 => Action::Transition {
                order: u32v(rng),
                from: status(rng),
                to: status(rng),
            },
            3 => Action::AddLine {
                order: u32v(rng),
                line: line(rng),
                total_cents: value(rng, u64::MAX),
            },
            4 => Action::RemoveLine {
                order: u32v(rng),
                seq: rng.random(),
                total_cents: value(rng, u64::MAX),
            },
            _ => Action::InventoryUpdate {
                item: u32v(rng),
                stock_level: u32v(rng),
            },
        }
    }

    #[test]
    fn every_variant_encodes_like_postcard_across_value_widths() {
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        for _ in 0..20_000 {
            assert_like_postcard(&action(&mut rng));
        }
    }

    #[test]
    fn the_extremes_encode_like_postcard() {
        for n in [0, u32::MAX] {
            let wide = u64::from(n) * u64::from(u32::MAX);
            let l = Line {
                seq: n as u8,
                product: n,
                quantity: n as u8,
            };
            for action in [
                Action::NewCustomer {
                    customer: n,
                    home_store: n,
                    persona: Persona {
                        first: n as u16,
                        last: n as u16,
                        street: n as u16,
                        house_number: n as u16,
                    },
                },
                Action::NewOrder(NewOrder {
                    order: n,
                    customer: CustomerRef::New(n),
                    store: n,
                    window_start_min: n as u16,
                    window_len_min: n as u16,
                    lines: vec![l; n as usize % 300],
                    total_cents: wide,
                }),
                Action::AddLine {
                    order: n,
                    line: l,
                    total_cents: wide,
                },
                Action::RemoveLine {
                    order: n,
                    seq: n as u8,
                    total_cents: wide,
                },
                Action::InventoryUpdate {
                    item: n,
                    stock_level: n,
                },
            ] {
                assert_like_postcard(&action);
            }
        }
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                assert_like_postcard(&Action::Transition { order: 7, from, to });
            }
        }
        // The longest bounded action is exactly `MAX_BOUNDED_LEN` bytes.
        let widest = Line {
            seq: u8::MAX,
            product: u32::MAX,
            quantity: u8::MAX,
        };
        let longest = Action::NewOrder(NewOrder {
            order: u32::MAX,
            customer: CustomerRef::Existing(u32::MAX),
            store: u32::MAX,
            window_start_min: u16::MAX,
            window_len_min: u16::MAX,
            lines: vec![widest; BOUNDED_LINES],
            total_cents: u64::MAX,
        });
        assert!(is_bounded(&longest));
        assert_eq!(
            postcard::to_stdvec(&longest).unwrap().len(),
            MAX_BOUNDED_LEN
        );
        assert_like_postcard(&longest);
        if let Action::NewOrder(mut order) = longest {
            order.lines.push(widest);
            assert!(!is_bounded(&Action::NewOrder(order)));
        }
    }

    /// The cursor's word stores write the bytes of `push_varint` at every width, followed by
    /// other bytes (what a word store wrote past the varint is overwritten), and its byte-wise
    /// fallback does the same where the slice ends less than 8 bytes after the varint.
    #[test]
    fn cursor_varints_are_the_format_s_at_every_width() {
        use crate::trace::format::push_varint;
        let mut values = vec![0, u64::MAX];
        for bits in 1..64 {
            let edge = 1u64 << bits;
            values.extend([edge - 1, edge, edge + 1, edge | (edge >> 1)]);
        }
        for &value in &values {
            let mut want = vec![0xEE];
            push_varint(&mut want, value);
            want.push(0x5A);
            for slack in [0, 1, 7, CURSOR_SLACK] {
                let mut buf = vec![0xAA; want.len() + slack];
                let mut cursor = Cursor {
                    buf: &mut buf,
                    pos: 0,
                };
                cursor.byte(0xEE);
                cursor.varint(value);
                cursor.byte(0x5A);
                assert_eq!(cursor.pos, want.len(), "{value:#x}, slack {slack}");
                assert_eq!(&buf[..want.len()], &want[..], "{value:#x}, slack {slack}");
            }
        }
    }

    #[test]
    fn a_simulated_hour_encodes_like_postcard() {
        use crate::profile::LoadProfile;
        use crate::sim::{time::SimTime, SimConfig, Simulation};
        let world = crate::world::builtin_world();
        let config = SimConfig {
            seed: 5,
            profile: LoadProfile::named("stress").unwrap(),
            start: chrono::DateTime::parse_from_rfc3339("2026-01-05T17:00:00Z").unwrap(),
            duration: SimTime(3_600_000),
        };
        let mut events = 0;
        for event in Simulation::new(&world, &config).unwrap() {
            assert_like_postcard(&event.unwrap().action);
            events += 1;
        }
        assert!(events > 30_000, "{events}");
    }
}
