//! The lines of an order still in CREATED, stored inline (at most `MAX_LINES`), so creating
//! and modifying orders allocates nothing.

use super::model::MAX_LINES;
use crate::event::Line;

const EMPTY: Line = Line {
    seq: 0,
    product: 0,
    quantity: 0,
};

/// Lines in the order they were added; removal keeps the order of the rest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Basket {
    len: u8,
    lines: [Line; MAX_LINES],
}

impl Default for Basket {
    fn default() -> Self {
        Basket {
            len: 0,
            lines: [EMPTY; MAX_LINES],
        }
    }
}

impl Basket {
    pub fn as_slice(&self) -> &[Line] {
        &self.lines[..usize::from(self.len)]
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether `product` is on one of the lines.
    pub fn has_product(&self, product: u32) -> bool {
        self.as_slice().iter().any(|l| l.product == product)
    }

    /// Adds a line at the end. The caller keeps the count within `MAX_LINES` (the model caps
    /// orders there); a line past it is a simulator bug.
    pub fn push(&mut self, line: Line) {
        assert!(self.len() < MAX_LINES, "order over {MAX_LINES} lines");
        self.lines[self.len()] = line;
        self.len += 1;
    }

    /// Removes and returns the line at `index`, shifting the later ones down.
    pub fn remove(&mut self, index: usize) -> Line {
        let len = self.len();
        assert!(index < len, "line {index} of {len}");
        let line = self.lines[index];
        self.lines.copy_within(index + 1..len, index);
        self.len -= 1;
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u8) -> Line {
        Line {
            seq,
            product: u32::from(seq) * 10,
            quantity: 1,
        }
    }

    #[test]
    fn removal_keeps_the_order_of_the_rest_like_a_vec() {
        let mut basket = Basket::default();
        let mut vec = Vec::new();
        for seq in 1..=MAX_LINES as u8 {
            basket.push(line(seq));
            vec.push(line(seq));
        }
        for index in [3, 0, 9, 4] {
            assert_eq!(basket.remove(index), vec.remove(index));
            assert_eq!(basket.as_slice(), vec.as_slice());
        }
        assert_eq!(basket.len(), MAX_LINES - 4);
        assert!(basket.has_product(20));
        assert!(!basket.has_product(10), "line 1 was removed");
    }

    #[test]
    #[should_panic(expected = "over 12 lines")]
    fn a_thirteenth_line_is_a_bug() {
        let mut basket = Basket::default();
        for seq in 1..=13 {
            basket.push(line(seq));
        }
    }
}
