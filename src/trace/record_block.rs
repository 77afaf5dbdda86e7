//! The records of a trace on their way out: each is encoded once, into a block buffer, that
//! goes to the output whole, and the CRC runs over whole blocks (crc32fast's fast path needs
//! long inputs) instead of over every 4–15-byte record.

use super::encode::{is_bounded, push_action, Cursor, Out, CURSOR_SLACK, MAX_BOUNDED_LEN};
use crate::event::Action;

/// A block is written out and hashed once it holds this many bytes. As large as the 256 KiB
/// `BufWriter` that `simulate` writes through, so that it goes to the file without a copy
/// into that buffer (the `BufWriter` passes a write at least its capacity straight through).
const BLOCK: usize = 256 * 1024;

/// Room a bounded record needs: a length of at most 2 varint bytes (the record is shorter than
/// 2^14), the `delta_ms` varint, the action.
const ROOM: usize = 2 + 10 + MAX_BOUNDED_LEN;
const _: () = assert!(ROOM < 1 << 14);
/// The room kept free past the block's end: a record, and the cursor's slack after it.
const FREE: usize = ROOM + CURSOR_SLACK;

/// The CRC of every record byte so far: `hasher` covers the bytes of earlier blocks, the block
/// (`buf[..len]`) holds the rest (the records since, not yet written out).
#[derive(Clone)]
pub struct RecordBlock {
    hasher: crc32fast::Hasher,
    /// Kept at least `FREE` bytes longer than `len` while records are encoded into it, so the
    /// encoder writes bytes with a bounds check but no capacity test or growth.
    buf: Vec<u8>,
    len: usize,
}

impl Default for RecordBlock {
    fn default() -> Self {
        RecordBlock {
            hasher: crc32fast::Hasher::new(),
            buf: Vec::new(),
            len: 0,
        }
    }
}

impl RecordBlock {
    /// Encodes one record (varint length, varint `delta_ms`, the action) at the end of the
    /// block and returns its bytes. Inlined into the writer's caller (`inline(always)`: as a
    /// call, saving and restoring registers was 17 instructions an event).
    #[inline(always)]
    pub fn push(&mut self, delta_ms: u64, action: &Action) -> &[u8] {
        let start = self.len;
        if is_bounded(action) {
            if self.buf.len() < start + FREE {
                self.buf.resize((start + FREE).max(BLOCK + FREE), 0);
            }
            // One byte for the length, which is all a record under 128 bytes needs; a longer
            // one moves up a byte.
            let mut cursor = Cursor {
                buf: &mut self.buf,
                pos: start + 1,
            };
            cursor.varint(delta_ms);
            push_action(&mut cursor, action);
            let len = cursor.pos - start - 1;
            if len < 0x80 {
                self.buf[start] = len as u8;
                self.len = start + 1 + len;
            } else {
                self.buf.copy_within(start + 1..start + 1 + len, start + 2);
                self.buf[start] = (len as u8) | 0x80;
                self.buf[start + 1] = (len >> 7) as u8;
                self.len = start + 2 + len;
            }
        } else {
            let mut payload = Vec::new();
            payload.varint(delta_ms);
            push_action(&mut payload, action);
            self.buf.truncate(start);
            self.buf.varint(payload.len() as u64);
            self.buf.extend_from_slice(&payload);
            self.len = self.buf.len();
        }
        &self.buf[start..self.len]
    }

    /// Whether the block is due to be written out (`filled`, then `next_block`).
    pub fn is_full(&self) -> bool {
        self.len >= BLOCK
    }

    /// The records of this block, to write out.
    pub fn filled(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Hashes this block's records and starts an empty block.
    pub fn next_block(&mut self) {
        self.hasher.update(&self.buf[..self.len]);
        self.len = 0;
    }

    /// Hashes `bytes` after the records so far: the footer fields the checksum also covers.
    pub fn update(&mut self, bytes: &[u8]) {
        self.next_block();
        self.hasher.update(bytes);
    }

    /// The CRC-32 of every record pushed (and of the bytes given to `update`).
    pub fn finalize(mut self) -> u32 {
        self.next_block();
        self.hasher.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Line, NewOrder, OrderStatus};
    use crate::trace::format::push_varint;

    /// The record as the format describes it, built the slow way.
    fn reference(delta_ms: u64, action: &Action) -> Vec<u8> {
        let mut payload = Vec::new();
        push_varint(&mut payload, delta_ms);
        payload.extend(postcard::to_stdvec(action).unwrap());
        let mut record = Vec::new();
        push_varint(&mut record, payload.len() as u64);
        record.extend(payload);
        record
    }

    fn order_with_lines(n: usize) -> Action {
        Action::NewOrder(NewOrder {
            order: 9,
            customer: crate::event::CustomerRef::Existing(3),
            store: 1,
            window_start_min: 200,
            window_len_min: 130,
            lines: vec![
                Line {
                    seq: 1,
                    product: 70_000,
                    quantity: 2
                };
                n
            ],
            total_cents: 123_456,
        })
    }

    #[test]
    fn records_and_crc_match_the_format_across_blocks_and_long_records() {
        let mut block = RecordBlock::default();
        let mut all = Vec::new();
        let mut hashed_in_pieces = crc32fast::Hasher::new();
        // ~8 bytes each: several blocks' worth; every 1,000th is a record over 127 bytes
        // (its length takes two varint bytes) and one is over 16 KiB (three bytes).
        for i in 0..160_000u64 {
            let action = match i {
                20_001 => order_with_lines(5_000),
                _ if i % 1_000 == 7 => order_with_lines(40 + (i / 1_000) as usize),
                _ => Action::Transition {
                    order: i as u32,
                    from: OrderStatus::Created,
                    to: OrderStatus::Picking,
                },
            };
            let want = reference(i % 300, &action);
            assert_eq!(block.push(i % 300, &action), &want[..], "record {i}");
            hashed_in_pieces.update(&want);
            all.extend(want);
        }
        assert!(all.len() > 4 * BLOCK, "{}", all.len());
        assert_eq!(block.clone().finalize(), crc32fast::hash(&all));
        assert_eq!(block.finalize(), hashed_in_pieces.finalize());
    }

    /// As the writer drives it: each full block written out, then the next one started.
    #[test]
    fn blocks_written_out_in_turn_are_the_records_in_sequence() {
        let mut block = RecordBlock::default();
        let (mut want, mut written) = (Vec::new(), Vec::new());
        let mut blocks = 0;
        for i in 0..200_000u64 {
            let action = match i % 5_000 {
                7 => order_with_lines(20 + (i / 5_000) as usize),
                8 => order_with_lines(16),
                _ => Action::Transition {
                    order: (i * 7_919) as u32,
                    from: OrderStatus::Created,
                    to: OrderStatus::Picking,
                },
            };
            let record = reference(i % 70_000, &action);
            assert_eq!(block.push(i % 70_000, &action), &record[..], "record {i}");
            want.extend(record);
            if block.is_full() {
                written.extend_from_slice(block.filled());
                block.next_block();
                blocks += 1;
            }
        }
        written.extend_from_slice(block.filled());
        assert!(blocks >= 4, "{blocks} blocks");
        assert_eq!(written, want);
        assert_eq!(block.finalize(), crc32fast::hash(&want));
    }

    #[test]
    fn bytes_after_the_records_hash_in_sequence() {
        let action = Action::Transition {
            order: 3,
            from: OrderStatus::Picking,
            to: OrderStatus::Cancelled,
        };
        let mut block = RecordBlock::default();
        let mut all = block.push(5, &action).to_vec();
        block.update(b"tail");
        all.extend_from_slice(b"tail");
        assert_eq!(block.finalize(), crc32fast::hash(&all));
    }

    #[test]
    fn no_records_hash_like_nothing() {
        assert_eq!(RecordBlock::default().finalize(), crc32fast::hash(&[]));
    }
}
