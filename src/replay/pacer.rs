//! The pacer: when each trace event is due, on an absolute schedule (`start + offset / speed`),
//! so waiting never accumulates drift. Pure arithmetic, testable without a runtime.

use std::time::Duration;

use crate::units::Speed;

#[derive(Clone, Copy, Debug)]
pub struct Pacer {
    speed: Speed,
    /// The trace offset that maps to the replay start (the start of `--from`).
    origin_ms: u64,
}

impl Pacer {
    pub fn new(speed: Speed, origin_ms: u64) -> Pacer {
        Pacer { speed, origin_ms }
    }

    pub fn speed(&self) -> Speed {
        self.speed
    }

    /// When the event at `offset_ms` is due, measured from the replay start; `None` at max
    /// speed, where nothing is scheduled and an event is due when the dispatcher reaches it.
    pub fn due(&self, offset_ms: u64) -> Option<Duration> {
        match self.speed {
            Speed::Max => None,
            Speed::Factor(factor) => {
                let trace_ms = offset_ms.saturating_sub(self.origin_ms);
                let nanos = trace_ms as f64 * 1e6 / factor;
                Some(Duration::from_nanos(
                    nanos.round().min(u64::MAX as f64) as u64
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn due_times() {
        // (speed, origin, offset, due)
        let table: &[(Speed, u64, u64, Option<Duration>)] = &[
            (Speed::Factor(1.0), 0, 0, Some(ms(0))),
            (Speed::Factor(1.0), 0, 1_500, Some(ms(1_500))),
            (Speed::Factor(10.0), 0, 60_000, Some(ms(6_000))),
            (Speed::Factor(0.5), 0, 1_000, Some(ms(2_000))),
            (
                Speed::Factor(3.0),
                0,
                1_000,
                Some(Duration::from_nanos(333_333_333)),
            ),
            (Speed::Factor(1.0), 3_600_000, 3_600_250, Some(ms(250))),
            // Before the origin (not sent by --from, but never negative).
            (Speed::Factor(1.0), 1_000, 500, Some(ms(0))),
            (Speed::Max, 0, 86_400_000, None),
        ];
        for &(speed, origin, offset, want) in table {
            assert_eq!(
                Pacer::new(speed, origin).due(offset),
                want,
                "{speed} origin {origin} offset {offset}"
            );
        }
    }

    #[test]
    fn no_drift_over_a_long_schedule() {
        // A million events 1 ms apart at 1x are due exactly at their offsets.
        let pacer = Pacer::new(Speed::Factor(1.0), 0);
        assert_eq!(pacer.due(1_000_000), Some(ms(1_000_000)));
        assert_eq!(pacer.due(86_400_000), Some(ms(86_400_000)));
    }
}
