//! How late each clock wakes for a deadline 500 µs ahead (the spacing of events at 2,000/s).
//! The figure criterion reports is the mean lateness per wake-up, not the time per call:
//! `iter_custom` returns the summed lateness.
//!
//! Each clock is timed on a current-thread runtime and on the runtime `loadgen replay` builds
//! (`cmd::runtime()`, the waiting future in `block_on` on the calling thread, as the
//! dispatcher's), where a wake-up may have to cross threads.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use loadgen::replay::clock::timerfd::TimerFdClock;
use loadgen::replay::clock::{Clock, PreciseClock, TokioClock, DEFAULT_TOLERANCE};
use tokio::time::Instant;

const SPACING: Duration = Duration::from_micros(500);

fn lateness<C: Clock>(runtime: &tokio::runtime::Runtime, clock: &C, iters: u64) -> Duration {
    runtime.block_on(async {
        let mut late = Duration::ZERO;
        for _ in 0..iters {
            let deadline = Instant::now() + SPACING;
            clock.synchronize(deadline).await;
            late += Instant::now() - deadline;
        }
        late
    })
}

fn clocks(c: &mut Criterion) {
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cli = loadgen::cmd::runtime().unwrap();
    let mut group = c.benchmark_group("clock_lateness_per_wake_500us");
    group.measurement_time(Duration::from_secs(4));
    for (runtime_name, runtime) in [("current_thread", &current), ("cli_runtime", &cli)] {
        let tokio_clock = TokioClock::default();
        group.bench_function(format!("{runtime_name}/tokio_timer"), |b| {
            b.iter_custom(|iters| lateness(runtime, &tokio_clock, iters))
        });
        let timerfd = runtime.block_on(async { TimerFdClock::new(DEFAULT_TOLERANCE).unwrap() });
        group.bench_function(format!("{runtime_name}/timerfd"), |b| {
            b.iter_custom(|iters| lateness(runtime, &timerfd, iters))
        });
        for spin_us in [0u64, 20] {
            let clock =
                PreciseClock::new(Duration::from_micros(spin_us), DEFAULT_TOLERANCE).unwrap();
            group.bench_function(format!("{runtime_name}/precise_spin_{spin_us}us"), |b| {
                b.iter_custom(|iters| lateness(runtime, &clock, iters))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, clocks);
criterion_main!(benches);
