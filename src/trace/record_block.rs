//! The records of a trace on their way out: each is encoded once, into a block buffer, and
//! the CRC runs over whole blocks (crc32fast's fast path needs long inputs) instead of over
//! every 4–15-byte record.

use super::encode::push_action;
use super::format::push_varint;
use crate::event::Action;

/// Records are hashed in blocks of at least this many bytes.
const BLOCK: usize = 64 * 1024;

/// The CRC of every record byte so far: `hasher` covers the bytes of earlier blocks, `block`
/// holds the rest (the records since).
#[derive(Clone)]
pub struct RecordBlock {
    hasher: crc32fast::Hasher,
    block: Vec<u8>,
}

impl Default for RecordBlock {
    fn default() -> Self {
        RecordBlock {
            hasher: crc32fast::Hasher::new(),
            block: Vec::new(),
        }
    }
}

impl RecordBlock {
    /// Encodes one record (varint length, varint `delta_ms`, the action) at the end of the
    /// block and returns its bytes.
    pub fn push(&mut self, delta_ms: u64, action: &Action) -> &[u8] {
        if self.block.len() >= BLOCK {
            self.hasher.update(&self.block);
            self.block.clear();
        }
        if self.block.capacity() == 0 {
            self.block.reserve(BLOCK + 256);
        }
        let start = self.block.len();
        // One byte for the length, which is all a record under 128 bytes needs; longer ones
        // make room below.
        self.block.push(0);
        push_varint(&mut self.block, delta_ms);
        push_action(&mut self.block, action);
        let len = self.block.len() - start - 1;
        if len < 0x80 {
            self.block[start] = len as u8;
        } else {
            let mut prefix = Vec::with_capacity(10);
            push_varint(&mut prefix, len as u64);
            self.block.splice(start..start + 1, prefix);
        }
        &self.block[start..]
    }

    /// Hashes `bytes` after the records so far: the footer fields the checksum also covers.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(&self.block);
        self.block.clear();
        self.hasher.update(bytes);
    }

    /// The CRC-32 of every record pushed (and of the bytes given to `update`).
    pub fn finalize(mut self) -> u32 {
        self.hasher.update(&self.block);
        self.hasher.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Line, NewOrder, OrderStatus};

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
        for i in 0..40_000u64 {
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
