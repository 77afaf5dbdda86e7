//! Fault injection: latency, injected 503s, connection resets, late answers (applied, then
//! answered too late for the client), outages and the capacity limit.
//! Random draws come from a seeded counter-based sequence (one step per request, in arrival
//! order), so they need no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{watch, Semaphore, SemaphorePermit};

use crate::latency::Latency;

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Delay before answering.
    pub delay: Option<Duration>,
    /// Drop the connection without answering.
    pub reset: bool,
    /// Answer 503 without doing anything.
    pub error: bool,
    /// Apply the request, then wait this long before answering (a client with a shorter
    /// timeout gives up on a write that happened).
    pub late: Option<Duration>,
}

/// The fault settings of a running stub.
pub struct Faults {
    seed: u64,
    draws: AtomicU64,
    latency: Latency,
    error_rate: AtomicU64,
    reset_rate: AtomicU64,
    outage: watch::Sender<bool>,
    capacity: Option<Semaphore>,
    late_rate: AtomicU64,
    late_by_us: AtomicU64,
}

impl Faults {
    /// Faults as configured; `capacity` limits requests processed at once.
    pub fn new(
        seed: u64,
        latency: Latency,
        error_rate: f64,
        reset_rate: f64,
        capacity: Option<usize>,
    ) -> Faults {
        Faults {
            seed,
            draws: AtomicU64::new(0),
            latency,
            error_rate: AtomicU64::new(clamp_rate(error_rate).to_bits()),
            reset_rate: AtomicU64::new(clamp_rate(reset_rate).to_bits()),
            outage: watch::channel(false).0,
            capacity: capacity.map(|n| Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS))),
            late_rate: AtomicU64::new(0f64.to_bits()),
            late_by_us: AtomicU64::new(0),
        }
    }

    /// Sets the fraction of requests applied and then answered `by` late.
    pub fn set_late(&self, rate: f64, by: Duration) {
        self.late_by_us
            .store(by.as_micros() as u64, Ordering::SeqCst);
        self.late_rate
            .store(clamp_rate(rate).to_bits(), Ordering::SeqCst);
    }

    /// Sets the fraction of requests answered 503.
    pub fn set_error_rate(&self, rate: f64) {
        self.error_rate
            .store(clamp_rate(rate).to_bits(), Ordering::SeqCst);
    }

    /// Sets the fraction of requests whose connection is dropped.
    pub fn set_reset_rate(&self, rate: f64) {
        self.reset_rate
            .store(clamp_rate(rate).to_bits(), Ordering::SeqCst);
    }

    /// Starts or ends an outage.
    pub fn set_outage(&self, on: bool) {
        self.outage.send_replace(on);
    }

    /// Whether an outage is on.
    pub fn outage(&self) -> bool {
        *self.outage.borrow()
    }

    /// Waits until no outage is on.
    pub async fn outage_over(&self) {
        let mut outage = self.outage.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = outage.wait_for(|on| !*on).await;
    }

    /// A capacity slot, if capacity is limited.
    pub async fn slot(&self) -> Option<SemaphorePermit<'_>> {
        self.capacity.as_ref()?.acquire().await.ok()
    }

    /// Whether capacity is limited.
    pub fn limited(&self) -> bool {
        self.capacity.is_some()
    }

    /// Decides the next request's fate.
    pub fn draw(&self) -> Verdict {
        let step = self.draws.fetch_add(1, Ordering::Relaxed);
        let base = self.seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let unit = |k: u64| {
            to_unit(splitmix64(
                base.wrapping_add(k.wrapping_mul(0xD1B5_4A32_D192_ED03)),
            ))
        };
        let error_rate = f64::from_bits(self.error_rate.load(Ordering::Relaxed));
        let reset_rate = f64::from_bits(self.reset_rate.load(Ordering::Relaxed));
        let late_rate = f64::from_bits(self.late_rate.load(Ordering::Relaxed));
        let reset = reset_rate > 0.0 && unit(1) < reset_rate;
        let error = !reset && error_rate > 0.0 && unit(2) < error_rate;
        let late = (!reset && !error && late_rate > 0.0 && unit(3) < late_rate)
            .then(|| Duration::from_micros(self.late_by_us.load(Ordering::Relaxed)));
        Verdict {
            delay: self.latency.sample(unit(0)),
            reset,
            error,
            late,
        }
    }
}

fn clamp_rate(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in `[0, 1)` from 53 random bits.
fn to_unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_of_zero_and_one_are_exact() {
        let never = Faults::new(7, Latency::None, 0.0, 0.0, None);
        let always = Faults::new(7, Latency::None, 1.0, 0.0, None);
        let resets = Faults::new(7, Latency::None, 1.0, 1.0, None);
        for _ in 0..1000 {
            assert_eq!(
                never.draw(),
                Verdict {
                    delay: None,
                    reset: false,
                    error: false,
                    late: None,
                }
            );
            assert!(always.draw().error);
            let v = resets.draw();
            assert!(v.reset && !v.error);
        }
    }

    #[test]
    fn late_answers_come_at_their_rate_and_never_with_another_fault() {
        let f = Faults::new(3, Latency::None, 0.2, 0.0, None);
        f.set_late(0.5, Duration::from_secs(2));
        let draws: Vec<Verdict> = (0..10_000).map(|_| f.draw()).collect();
        let late = draws.iter().filter(|v| v.late.is_some()).count();
        // Half of the 80% that are not errors.
        assert!((3_700..4_300).contains(&late), "{late}");
        assert!(draws
            .iter()
            .all(|v| v.late.is_none() || (!v.error && v.late == Some(Duration::from_secs(2)))));
        f.set_late(0.0, Duration::from_secs(2));
        assert!((0..1000).all(|_| f.draw().late.is_none()));
    }

    #[test]
    fn draws_are_reproducible_and_near_the_rate() {
        let errors = |seed| {
            let f = Faults::new(seed, Latency::None, 0.1, 0.0, None);
            (0..10_000).map(|_| f.draw().error).collect::<Vec<bool>>()
        };
        assert_eq!(errors(42), errors(42));
        assert_ne!(errors(42), errors(43));
        let count = errors(42).into_iter().filter(|e| *e).count();
        assert!((800..1200).contains(&count), "{count}");
    }
}
