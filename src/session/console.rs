//! The console while a run goes: a progress bar over the trace range (on a terminal), a status
//! line per window, and the line that says a lost threshold stops the run.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{stamp, Completions};
use crate::metrics::EventRecord;
use crate::replay::{Observer, Progress, WindowReport};
use crate::result::thresholds::AbortWatch;
use crate::sim::time::{Calendar, SimTime};
use crate::units::Speed;

/// The progress bar of a run and the task that moves it (none for a hidden bar).
pub struct RunConsole {
    bar: indicatif::ProgressBar,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl RunConsole {
    /// A bar over the trace range `span_ms` (`None`, or not a terminal: hidden), moved from
    /// the replayer's counters. Call within the run's runtime.
    pub fn start(span_ms: Option<(u64, u64)>, progress: Arc<Progress>) -> RunConsole {
        let bar = progress_bar(span_ms);
        // A hidden bar (no terminal: a benchmark, a pod) needs no task waking four times a
        // second for nothing.
        let ticker = (!bar.is_hidden()).then(|| spawn_progress(bar.clone(), progress, span_ms));
        RunConsole { bar, ticker }
    }

    /// The replayer's observer: window lines (with the trace's local time unless the run is
    /// at 1x), every completion and batch end to `on_completed`, and `abort`'s verdicts, which
    /// cancel `stop` once a threshold can no longer pass.
    pub fn observer(
        &self,
        speed: Speed,
        calendar: Calendar,
        on_completed: impl Completions,
        mut abort: Option<AbortWatch>,
        stop: tokio_util::sync::CancellationToken,
    ) -> impl Observer {
        let show_trace_time = speed != Speed::Factor(1.0);
        let (line_bar, abort_bar) = (self.bar.clone(), self.bar.clone());
        Console {
            on_window: move |w: &WindowReport| {
                let trace_time = show_trace_time.then(|| {
                    calendar
                        .instant_at(SimTime(w.trace_pos_ms))
                        .format("%a %H:%M")
                        .to_string()
                });
                let line = crate::report::window_line(w, trace_time.as_deref());
                line_bar.suspend(|| crate::outln!("{} {line}", stamp()));
            },
            on_completed,
            abort: move |r: &EventRecord| {
                if let Some(lost) = abort.as_mut().and_then(|w| w.observe(r)) {
                    abort_bar.suspend(|| {
                        crate::outln!(
                            "{} Threshold `{lost}` can no longer pass: stopping gracefully...",
                            stamp()
                        )
                    });
                    stop.cancel();
                }
            },
        }
    }

    /// The run is over: the bar goes, and a run stopped early says it stops its workers.
    pub fn finish(self, stopped_early: bool) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
        }
        self.bar.finish_and_clear();
        if stopped_early {
            crate::outln!("{} Stopping workers...", stamp());
        }
    }
}

/// The command line's observer: window lines on the console, completions to the caller, then
/// to the abort watch.
struct Console<W, C, A> {
    on_window: W,
    on_completed: C,
    abort: A,
}

impl<W, C, A> Observer for Console<W, C, A>
where
    W: FnMut(&WindowReport) + Send + 'static,
    C: Completions,
    A: FnMut(&EventRecord) + Send + 'static,
{
    fn window(&mut self, window: &WindowReport) {
        (self.on_window)(window)
    }

    fn completed(&mut self, record: &EventRecord) {
        self.on_completed.completed(record);
        (self.abort)(record)
    }

    fn batch_ended(&mut self) {
        self.on_completed.batch_ended()
    }
}

fn progress_bar(span: Option<(u64, u64)>) -> indicatif::ProgressBar {
    let Some((from, to)) = span.filter(|_| std::io::stderr().is_terminal()) else {
        return indicatif::ProgressBar::hidden();
    };
    let bar = indicatif::ProgressBar::new(to - from);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% of the trace, {msg}")
            .expect("static template"),
    );
    bar
}

fn spawn_progress(
    bar: indicatif::ProgressBar,
    progress: Arc<Progress>,
    span: Option<(u64, u64)>,
) -> tokio::task::JoinHandle<()> {
    let from = span.map_or(0, |(from, _)| from);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            let pos = progress.trace_pos_ms.load(Ordering::Relaxed);
            bar.set_position(pos.saturating_sub(from));
            bar.set_message(format!(
                "{} sent, {} done",
                progress.dispatched.load(Ordering::Relaxed),
                progress.completed.load(Ordering::Relaxed)
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a terminal (tests, benchmarks, pods) the bar is hidden, and nothing runs to move
    /// it: a paced run is woken only by its own work.
    #[tokio::test]
    async fn a_hidden_bar_is_moved_by_no_task() {
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        let console = RunConsole::start(None, Arc::new(Progress::default()));
        assert!(console.bar.is_hidden());
        assert_eq!(metrics.num_alive_tasks(), before);
        console.finish(false);
    }
}
