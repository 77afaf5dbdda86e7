//! A Linux `timerfd` waited on by tokio's own I/O driver: the replay clock for real runs.
//!
//! The kernel fires a timerfd from a high-resolution timer with no slack (a thread's sleep or
//! futex timeout is late by its 50 µs timer slack), and the runtime thread parked in
//! `epoll_wait` is the thread it wakes: no timer thread in between, so a due time costs one
//! wake-up instead of two. Armed relative to `Instant::now()` on the same clock
//! (`CLOCK_MONOTONIC`, which `Instant` reads), so it never fires before the deadline.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

use super::{Clock, Synchronized};

/// One kernel timer, non-blocking.
#[derive(Debug)]
struct TimerFd(OwnedFd);

impl TimerFd {
    fn new() -> io::Result<TimerFd> {
        // SAFETY: a plain system call with constant arguments; it returns a new descriptor or -1.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and nothing else owns it.
        Ok(TimerFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Fires once, `after` from now (at least 1 ns: a zero value would disarm it).
    fn arm(&self, after: Duration) -> io::Result<()> {
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs().min(i32::MAX as u64) as libc::time_t,
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: the descriptor is open (owned by self); `spec` is a valid itimerspec and a
        // null old value is allowed.
        let rc =
            unsafe { libc::timerfd_settime(self.0.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The expirations since the last read; `WouldBlock` while it has not fired.
    fn expirations(&self) -> io::Result<u64> {
        let mut count = [0u8; 8];
        // SAFETY: reads at most 8 bytes into an 8-byte buffer from an open descriptor.
        let n = unsafe {
            libc::read(
                self.0.as_raw_fd(),
                count.as_mut_ptr().cast::<libc::c_void>(),
                count.len(),
            )
        };
        match n {
            8 => Ok(u64::from_ne_bytes(count)),
            n if n < 0 => Err(io::Error::last_os_error()),
            _ => Err(io::Error::other("short read from a timerfd")),
        }
    }
}

impl AsRawFd for TimerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A new timer, registered (readable only) with the current runtime's I/O driver.
fn registered() -> io::Result<AsyncFd<TimerFd>> {
    // SAFETY: the descriptor is owned by the `TimerFd` moved in, open until the `AsyncFd`
    // drops it, and `as_raw_fd` always returns that same descriptor.
    unsafe { AsyncFd::register_with_interest(TimerFd::new()?, tokio::io::Interest::READABLE) }
        .map_err(io::Error::from)
}

/// Waits on timerfds registered with the runtime's I/O driver. Waits may overlap (each takes
/// its own timer); timers are reused, so a steady run creates one or two.
#[derive(Debug)]
pub struct TimerFdClock {
    idle: Mutex<Vec<AsyncFd<TimerFd>>>,
    tolerance: Duration,
}

impl TimerFdClock {
    /// Must be called inside a tokio runtime with I/O enabled (`enable_io`/`enable_all`);
    /// outside one it fails instead of panicking.
    pub fn new(tolerance: Duration) -> io::Result<TimerFdClock> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other("no tokio runtime"));
        }
        let first = registered()?;
        Ok(TimerFdClock {
            idle: Mutex::new(vec![first]),
            tolerance,
        })
    }

    fn take(&self) -> io::Result<AsyncFd<TimerFd>> {
        let reused = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match reused {
            Some(timer) => Ok(timer),
            None => registered(),
        }
    }

    fn give_back(&self, timer: AsyncFd<TimerFd>) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(timer);
    }
}

/// Arms `timer` for `deadline` and waits until it has fired.
///
/// The expiry is not read: the next `arm` resets the timer's count (`timerfd_settime` zeroes
/// it), and the runtime's epoll is edge-triggered, so that timer's next expiry is reported
/// anew either way. Whether this readiness is the expiry the clock says (a timer cannot
/// fire before its deadline), which spares a `read` per due time; only a readiness that
/// comes before the deadline by the clock is checked with a read (stale readiness, or a
/// clock that disagrees with the timer's by a hair: the read settles it, so a wait never
/// outlives its expiry).
async fn fire_at(timer: &AsyncFd<TimerFd>, deadline: Instant) -> io::Result<()> {
    timer
        .get_ref()
        .arm(deadline.saturating_duration_since(Instant::now()))?;
    loop {
        let mut ready = timer.readable().await?;
        if Instant::now() >= deadline {
            // Cleared now, this readiness is not seen by the timer's next wait.
            ready.clear_ready();
            return Ok(());
        }
        match ready.try_io(|t| t.get_ref().expirations()) {
            Ok(result) => {
                ready.clear_ready();
                return result.map(|_| ());
            }
            // Not fired yet: the readiness was stale and is cleared; wait again.
            Err(_would_block) => continue,
        }
    }
}

impl Clock for TimerFdClock {
    async fn synchronize(&self, deadline: Instant) -> Synchronized {
        if deadline > Instant::now() {
            // A wait that is dropped (the run stopped) drops its timer with it: a timer goes
            // back only once it has fired (its readiness cleared), so a reused one never
            // carries an expiry that could still come.
            let fired = match self.take() {
                Ok(timer) => match fire_at(&timer, deadline).await {
                    Ok(()) => {
                        self.give_back(timer);
                        true
                    }
                    Err(_) => false,
                },
                Err(_) => false,
            };
            if !fired {
                // The kernel refused a timer: tokio's (coarser) timer rather than no wait.
                tokio::time::sleep_until(deadline).await;
            }
        }
        Synchronized::at(Instant::now(), deadline, self.tolerance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::clock::DEFAULT_TOLERANCE;

    #[test]
    fn outside_a_runtime_it_fails_instead_of_panicking() {
        assert!(TimerFdClock::new(DEFAULT_TOLERANCE).is_err());
    }

    #[test]
    fn a_timer_fires_once_and_not_before() {
        let timer = TimerFd::new().unwrap();
        assert_eq!(
            timer.expirations().unwrap_err().kind(),
            io::ErrorKind::WouldBlock,
            "a timer never armed has not fired"
        );
        let armed = std::time::Instant::now();
        timer.arm(Duration::from_millis(2)).unwrap();
        assert_eq!(
            timer.expirations().unwrap_err().kind(),
            io::ErrorKind::WouldBlock,
            "not before its time"
        );
        // Bounded: 2 ms due, given 2 s.
        let mut count = None;
        while armed.elapsed() < Duration::from_secs(2) {
            match timer.expirations() {
                Ok(n) => {
                    count = Some((n, armed.elapsed()));
                    break;
                }
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
            }
            std::thread::yield_now();
        }
        let (n, after) = count.expect("fired within 2 s");
        assert_eq!(n, 1);
        assert!(after >= Duration::from_millis(2), "fired after {after:?}");
        assert_eq!(
            timer.expirations().unwrap_err().kind(),
            io::ErrorKind::WouldBlock,
            "a one-shot timer fires once"
        );
    }

    #[tokio::test]
    async fn overlapping_waits_each_wake_at_or_after_their_deadline_and_reuse_timers() {
        let clock = std::sync::Arc::new(TimerFdClock::new(DEFAULT_TOLERANCE).unwrap());
        let start = Instant::now();
        let mut waiters = Vec::new();
        for offset_us in [3_000u64, 1_000, 2_000, 1_000, 5_000, 0] {
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
        let idle = clock.idle.lock().unwrap().len();
        assert!(
            (1..=6).contains(&idle),
            "{idle} timers kept for 6 overlapping waits"
        );
        // Sequential waits reuse one timer: the pool does not grow.
        for _ in 0..20 {
            let deadline = Instant::now() + Duration::from_micros(200);
            clock.synchronize(deadline).await;
            assert!(Instant::now() >= deadline);
        }
        assert_eq!(clock.idle.lock().unwrap().len(), idle);
        // A deadline already passed returns at once and says how late it is.
        assert!(matches!(
            clock.synchronize(start).await,
            Synchronized::Late(lag) if lag >= Duration::from_millis(5)
        ));
    }

    #[tokio::test]
    async fn a_timer_given_back_carries_no_stale_readiness() {
        let clock = TimerFdClock::new(DEFAULT_TOLERANCE).unwrap();
        let deadline = Instant::now() + Duration::from_micros(300);
        clock.synchronize(deadline).await;
        let timer = clock
            .idle
            .lock()
            .unwrap()
            .pop()
            .expect("the timer went back");
        // Disarmed and read: waiting on it must not return at once (which would cost the
        // next deadline a wasted read).
        let at_once = tokio::time::timeout(Duration::ZERO, timer.readable()).await;
        assert!(at_once.is_err(), "a read timer still looked readable");
    }

    /// A due time costs the timer's arming and the wake-up, not a read of its count: the
    /// expiry is left on the timer (the next arming resets it), and the next wait on that
    /// timer still waits for its own deadline.
    #[tokio::test]
    async fn a_due_time_is_not_read_back_and_the_next_wait_still_waits() {
        let clock = TimerFdClock::new(DEFAULT_TOLERANCE).unwrap();
        let deadline = Instant::now() + Duration::from_micros(300);
        clock.synchronize(deadline).await;
        let left = clock.idle.lock().unwrap()[0].get_ref().expirations();
        assert_eq!(left.ok(), Some(1), "the expiry was read back");
        // An expiry that came before the next arming (a stale edge the runtime has not yet
        // taken) does not end the next wait early: it is checked with a read.
        let timer = clock.idle.lock().unwrap().pop().unwrap();
        timer.get_ref().arm(Duration::from_secs(3_600)).unwrap();
        timer.get_ref().arm(Duration::from_millis(1)).unwrap();
        clock.give_back(timer);
        let next = Instant::now() + Duration::from_millis(4);
        clock.synchronize(next).await;
        assert!(Instant::now() >= next, "woken before its deadline");
        for _ in 0..20 {
            let deadline = Instant::now() + Duration::from_micros(200);
            clock.synchronize(deadline).await;
            assert!(Instant::now() >= deadline);
        }
    }

    #[tokio::test]
    async fn a_dropped_wait_leaves_no_stale_expiry_behind() {
        let clock = TimerFdClock::new(DEFAULT_TOLERANCE).unwrap();
        // Give up on a wait 50 ms out after 1 ms: its timer is dropped, not reused.
        let far = Instant::now() + Duration::from_millis(50);
        let gave_up = tokio::time::timeout(Duration::from_millis(1), clock.synchronize(far)).await;
        assert!(gave_up.is_err());
        // The next wait is for its own deadline, neither earlier nor much later.
        let deadline = Instant::now() + Duration::from_millis(3);
        clock.synchronize(deadline).await;
        let woke = Instant::now();
        assert!(woke >= deadline);
        assert!(woke < far, "woken by its own timer, not the abandoned one");
    }
}
