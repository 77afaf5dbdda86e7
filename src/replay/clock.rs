//! The seam between the replay's schedule and real time (nexosim's `Clock::synchronize`): the
//! dispatcher asks a clock to wait until an event's deadline and learns whether it was on time.
//!
//! * [`timerfd::TimerFdClock`] for real runs on Linux: a kernel timer (no timer slack) that
//!   the runtime's own I/O driver waits on, so a due time costs one wake-up of the thread that
//!   runs the dispatcher's runtime, and no thread of its own.
//! * [`PreciseClock`] for real runs elsewhere (or if no timerfd can be had): one timer thread
//!   that sleeps in the kernel until the earliest deadline (with an optional final spin,
//!   bounded and off by default), so pacing costs two wake-ups per deadline instead of a core.
//!   tokio's own timer rounds up to whole milliseconds, which is why it is not used for real
//!   runs.
//! * [`TokioClock`] for tests: tokio's timer, which follows a paused test clock exactly.
//! * [`Unpaced`] for `--speed max`: nothing is scheduled, every event is due at once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

#[cfg(target_os = "linux")]
pub mod timerfd;

/// How a wait for a deadline ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synchronized {
    /// Woken within the clock's tolerance of the deadline.
    OnTime,
    /// Woken this long after the deadline (beyond the tolerance), or called after it.
    Late(Duration),
}

impl Synchronized {
    /// Classifies a wake-up `now` for `deadline`.
    pub fn at(now: Instant, deadline: Instant, tolerance: Duration) -> Synchronized {
        match now.checked_duration_since(deadline) {
            Some(lag) if lag > tolerance => Synchronized::Late(lag),
            _ => Synchronized::OnTime,
        }
    }
}

/// Waits until deadlines on some time line.
pub trait Clock: Send + Sync + 'static {
    /// Returns at `deadline` (at once when it has passed) and says how late that was.
    fn synchronize(&self, deadline: Instant) -> impl Future<Output = Synchronized> + Send;
}

/// Wake-ups later than this count as late.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_micros(500);

/// tokio's timer: exact under a paused test clock, whole milliseconds in real time.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    pub tolerance: Duration,
}

impl Default for TokioClock {
    fn default() -> TokioClock {
        TokioClock {
            tolerance: DEFAULT_TOLERANCE,
        }
    }
}

impl Clock for TokioClock {
    async fn synchronize(&self, deadline: Instant) -> Synchronized {
        tokio::time::sleep_until(deadline).await;
        Synchronized::at(Instant::now(), deadline, self.tolerance)
    }
}

/// `--speed max`: no schedule, so nothing waits.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unpaced;

impl Clock for Unpaced {
    async fn synchronize(&self, _deadline: Instant) -> Synchronized {
        Synchronized::OnTime
    }
}

/// Which clock a run paces with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockChoice {
    /// The kernel's timers: a timerfd on Linux, else the precise timer thread. Real runs.
    Precise,
    /// tokio's timer: tests on a paused clock.
    Tokio,
}

/// The clock of one run: chosen once, from the speed and the choice.
pub enum PacingClock {
    #[cfg(target_os = "linux")]
    Kernel(timerfd::TimerFdClock),
    Precise(PreciseClock),
    Tokio(TokioClock),
    Unpaced(Unpaced),
}

impl PacingClock {
    /// `--speed max` waits for nothing; otherwise the chosen clock: for real runs a timerfd
    /// (Linux, inside a runtime), else the timer thread, else tokio's timer.
    pub fn for_run(choice: ClockChoice, speed: crate::units::Speed) -> PacingClock {
        match (speed, choice) {
            (crate::units::Speed::Max, _) => PacingClock::Unpaced(Unpaced),
            (_, ClockChoice::Tokio) => PacingClock::Tokio(TokioClock::default()),
            (_, ClockChoice::Precise) => Self::kernel()
                .or_else(|| {
                    PreciseClock::new(Duration::ZERO, DEFAULT_TOLERANCE)
                        .map(PacingClock::Precise)
                        .ok()
                })
                .unwrap_or_else(|| PacingClock::Tokio(TokioClock::default())),
        }
    }

    #[cfg(target_os = "linux")]
    fn kernel() -> Option<PacingClock> {
        timerfd::TimerFdClock::new(DEFAULT_TOLERANCE)
            .ok()
            .map(PacingClock::Kernel)
    }

    #[cfg(not(target_os = "linux"))]
    fn kernel() -> Option<PacingClock> {
        None
    }
}

impl Clock for PacingClock {
    async fn synchronize(&self, deadline: Instant) -> Synchronized {
        match self {
            #[cfg(target_os = "linux")]
            PacingClock::Kernel(clock) => clock.synchronize(deadline).await,
            PacingClock::Precise(clock) => clock.synchronize(deadline).await,
            PacingClock::Tokio(clock) => clock.synchronize(deadline).await,
            PacingClock::Unpaced(clock) => clock.synchronize(deadline).await,
        }
    }
}

/// A deadline waiting in the timer thread.
struct Alarm {
    at: std::time::Instant,
    /// Keeps equal deadlines in the order they were asked for.
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Alarm {
    fn eq(&self, other: &Alarm) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Alarm {}
impl PartialOrd for Alarm {
    fn partial_cmp(&self, other: &Alarm) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Alarm {
    fn cmp(&self, other: &Alarm) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Real time, woken by a dedicated timer thread sleeping in the kernel until the earliest
/// deadline. The thread ends when the last handle is dropped.
pub struct PreciseClock {
    alarms: mpsc::Sender<Alarm>,
    seq: std::sync::atomic::AtomicU64,
    tolerance: Duration,
}

impl PreciseClock {
    /// A clock whose timer thread spins for at most `spin` before each deadline (zero: sleep
    /// all the way; the kernel's wake-up is then typically 50–100 µs late).
    pub fn new(spin: Duration, tolerance: Duration) -> std::io::Result<PreciseClock> {
        let (alarms, inbox) = mpsc::channel::<Alarm>();
        std::thread::Builder::new()
            .name("loadgen-clock".into())
            .spawn(move || timer_thread(inbox, spin))?;
        Ok(PreciseClock {
            alarms,
            seq: std::sync::atomic::AtomicU64::new(0),
            tolerance,
        })
    }
}

impl Clock for PreciseClock {
    async fn synchronize(&self, deadline: Instant) -> Synchronized {
        if deadline > Instant::now() {
            let (wake, woken) = oneshot::channel();
            let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let alarm = Alarm {
                at: deadline.into_std(),
                seq,
                wake,
            };
            // The thread only stops when every sender is gone, so both can only fail if it
            // panicked; then fall back to tokio's timer rather than not waiting at all.
            let sent = self.alarms.send(alarm).is_ok();
            if !sent || woken.await.is_err() {
                tokio::time::sleep_until(deadline).await;
            }
        }
        Synchronized::at(Instant::now(), deadline, self.tolerance)
    }
}

/// Sleeps until the earliest alarm, spins the last `spin` of it, fires every alarm that is due.
fn timer_thread(inbox: mpsc::Receiver<Alarm>, spin: Duration) {
    least_timer_slack();
    let mut pending: BinaryHeap<Reverse<Alarm>> = BinaryHeap::new();
    loop {
        let now = std::time::Instant::now();
        while pending.peek().is_some_and(|Reverse(a)| a.at <= now) {
            if let Some(Reverse(alarm)) = pending.pop() {
                // A waiter that gave up (its run was cancelled) dropped its receiver.
                let _ = alarm.wake.send(());
            }
        }
        let next = match pending.peek() {
            None => match inbox.recv() {
                Ok(alarm) => {
                    pending.push(Reverse(alarm));
                    continue;
                }
                Err(_) => return,
            },
            Some(Reverse(alarm)) => alarm.at,
        };
        let wake_at = next.checked_sub(spin).unwrap_or(next);
        let now = std::time::Instant::now();
        if wake_at > now {
            match inbox.recv_timeout(wake_at - now) {
                Ok(alarm) => {
                    pending.push(Reverse(alarm));
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // No more requests can come, but the pending ones still fire.
                Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(wake_at - now),
            }
        }
        while std::time::Instant::now() < next {
            std::hint::spin_loop();
        }
    }
}

/// Linux lets a sleeping thread's timeout fire up to its "timer slack" late (50 µs by default)
/// so wake-ups can be merged; the timer thread asks for the least (1 ns).
fn least_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes an integer and changes only this thread's slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synchronized_classifies_by_the_tolerance() {
        let deadline = Instant::now();
        let tolerance = Duration::from_micros(500);
        let cases = [
            (Duration::ZERO, Synchronized::OnTime),
            (Duration::from_micros(500), Synchronized::OnTime),
            (
                Duration::from_micros(501),
                Synchronized::Late(Duration::from_micros(501)),
            ),
            (
                Duration::from_millis(40),
                Synchronized::Late(Duration::from_millis(40)),
            ),
        ];
        for (after, want) in cases {
            assert_eq!(
                Synchronized::at(deadline + after, deadline, tolerance),
                want,
                "{after:?}"
            );
        }
        // Woken before the deadline (a clock that returns early) is not late.
        assert_eq!(
            Synchronized::at(deadline, deadline + Duration::from_millis(1), tolerance),
            Synchronized::OnTime
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_follows_paused_time_exactly() {
        let clock = TokioClock::default();
        let start = Instant::now();
        for (offset_ms, want) in [(0u64, 0u64), (250, 250), (250, 250), (1_000, 1_000)] {
            let deadline = start + Duration::from_millis(offset_ms);
            assert_eq!(clock.synchronize(deadline).await, Synchronized::OnTime);
            assert_eq!(Instant::now() - start, Duration::from_millis(want));
        }
        // A deadline in the past returns at once, late by how far it has passed.
        let past = start + Duration::from_millis(400);
        assert_eq!(
            clock.synchronize(past).await,
            Synchronized::Late(Duration::from_millis(600))
        );
        assert_eq!(Instant::now() - start, Duration::from_millis(1_000));
    }

    #[test]
    fn a_run_gets_the_clock_its_speed_and_choice_ask_for() {
        use crate::units::Speed;
        let name = |clock: &PacingClock| match clock {
            #[cfg(target_os = "linux")]
            PacingClock::Kernel(_) => "timerfd",
            PacingClock::Precise(_) => "timer thread",
            PacingClock::Tokio(_) => "tokio",
            PacingClock::Unpaced(_) => "unpaced",
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let real = if cfg!(target_os = "linux") {
            "timerfd"
        } else {
            "timer thread"
        };
        let table = [
            (Speed::Max, ClockChoice::Precise, "unpaced"),
            (Speed::Max, ClockChoice::Tokio, "unpaced"),
            (Speed::Factor(1.0), ClockChoice::Tokio, "tokio"),
            (Speed::Factor(1.0), ClockChoice::Precise, real),
        ];
        for (speed, choice, want) in table {
            let got = runtime.block_on(async { name(&PacingClock::for_run(choice, speed)) });
            assert_eq!(got, want, "{speed} {choice:?}");
        }
        // Outside a runtime there is no I/O driver to wait on a timerfd: the timer thread.
        assert_eq!(
            name(&PacingClock::for_run(
                ClockChoice::Precise,
                Speed::Factor(1.0)
            )),
            "timer thread"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unpaced_never_waits() {
        let start = Instant::now();
        let far = start + Duration::from_secs(3_600);
        assert_eq!(Unpaced.synchronize(far).await, Synchronized::OnTime);
        assert_eq!(Instant::now(), start);
    }

    #[tokio::test]
    async fn the_precise_clock_never_wakes_early_and_keeps_order() {
        let clock =
            std::sync::Arc::new(PreciseClock::new(Duration::ZERO, DEFAULT_TOLERANCE).unwrap());
        let start = Instant::now();
        // Several waiters with deadlines out of order: each wakes at or after its own.
        let mut waiters = Vec::new();
        for offset_us in [3_000u64, 1_000, 2_000, 1_000, 5_000] {
            let clock = clock.clone();
            let deadline = start + Duration::from_micros(offset_us);
            waiters.push(tokio::spawn(async move {
                clock.synchronize(deadline).await;
                (deadline, Instant::now())
            }));
        }
        for waiter in waiters {
            let (deadline, woke) = waiter.await.unwrap();
            assert!(woke >= deadline, "woke {:?} early", deadline - woke);
        }
        // A deadline already passed returns at once.
        let before = Instant::now();
        assert!(matches!(
            clock.synchronize(start).await,
            Synchronized::Late(_) | Synchronized::OnTime
        ));
        assert!(Instant::now() - before < Duration::from_millis(50));
    }
}
