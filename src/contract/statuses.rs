//! Order statuses: the lifecycle, the strings the API stores in `order_status`, and those
//! strings read back.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OrderStatus {
    Created,
    Picking,
    OutForDelivery,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Created,
        OrderStatus::Picking,
        OrderStatus::OutForDelivery,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    /// The value FreshMart stores in `order_status`.
    pub fn as_api(self) -> &'static str {
        match self {
            OrderStatus::Created => "CREATED",
            OrderStatus::Picking => "PICKING",
            OrderStatus::OutForDelivery => "OUT_FOR_DELIVERY",
            OrderStatus::Delivered => "DELIVERED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }

    /// The status an `order_status` value names; `None` for any other string (exact match:
    /// the API stores them upper case).
    pub fn from_api(text: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_api() == text)
    }

    /// The next stage of the happy path, if any.
    pub fn next(self) -> Option<OrderStatus> {
        match self {
            OrderStatus::Created => Some(OrderStatus::Picking),
            OrderStatus::Picking => Some(OrderStatus::OutForDelivery),
            OrderStatus::OutForDelivery => Some(OrderStatus::Delivered),
            OrderStatus::Delivered | OrderStatus::Cancelled => None,
        }
    }

    /// Position in the lifecycle, from 0: a cancellation ends it like a delivery, so an order
    /// at a later stage has seen every write of an earlier one.
    pub fn stage(self) -> u8 {
        match self {
            OrderStatus::Created => 0,
            OrderStatus::Picking => 1,
            OrderStatus::OutForDelivery => 2,
            OrderStatus::Delivered | OrderStatus::Cancelled => 3,
        }
    }

    /// Delivered or cancelled: nothing is written to the order after it.
    pub fn is_final(self) -> bool {
        self.stage() == OrderStatus::Delivered.stage()
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_api())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_runs_created_to_delivered() {
        let mut path = vec![OrderStatus::Created];
        while let Some(next) = path.last().unwrap().next() {
            path.push(next);
        }
        assert_eq!(
            path,
            vec![
                OrderStatus::Created,
                OrderStatus::Picking,
                OrderStatus::OutForDelivery,
                OrderStatus::Delivered
            ]
        );
        assert_eq!(OrderStatus::Cancelled.next(), None);
        let stages: Vec<u8> = path.iter().map(|s| s.stage()).collect();
        assert_eq!(stages, [0, 1, 2, 3]);
    }

    #[test]
    fn the_api_strings_round_trip() {
        let strings: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_api()).collect();
        assert_eq!(
            strings,
            [
                "CREATED",
                "PICKING",
                "OUT_FOR_DELIVERY",
                "DELIVERED",
                "CANCELLED"
            ]
        );
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::from_api(status.as_api()), Some(status));
            assert_eq!(status.to_string(), status.as_api());
        }
        for other in ["", "created", "SHIPPED", "CREATED ", "OUT FOR DELIVERY"] {
            assert_eq!(OrderStatus::from_api(other), None, "{other:?}");
        }
    }

    #[test]
    fn only_a_delivery_or_a_cancellation_is_final() {
        let finals: Vec<OrderStatus> = OrderStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, [OrderStatus::Delivered, OrderStatus::Cancelled]);
        assert_eq!(
            OrderStatus::Cancelled.stage(),
            OrderStatus::Delivered.stage()
        );
    }
}
