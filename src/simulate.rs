//! `simulate`'s work: a world read from a snapshot file, and the simulator streamed into a
//! trace with a progress bar on stderr, ending in the line that says what was written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use crate::event::{Action, Event, Line};
use crate::output::OutputError;
use crate::sim::time::SimTime;
use crate::sim::{
    IndependentDraws, OrderDraws, SimConfig, SimError, Simulation, StreamDraws, ARRIVAL_PROCESSES,
};
use crate::trace::format::TraceError;
use crate::trace::{TraceHeader, TraceWriter};
use crate::world::{World, WorldError};

/// Events between two progress-bar updates: cheap enough to be invisible in the hot loop.
const PROGRESS_EVERY: u64 = 1 << 16;

/// A world file that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WorldFileError {
    #[error("cannot read world file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("world file {} is not a loadgen world", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("world file {}", path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: WorldError,
    },
}

/// Why a trace was not written.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("cannot start the simulation's thread")]
    Thread(#[source] std::io::Error),
}

/// Reads a world snapshot (the JSON `loadgen world` writes).
pub fn load_world(path: &Path) -> Result<World, WorldFileError> {
    let path_buf = || path.to_path_buf();
    let text = std::fs::read_to_string(path).map_err(|source| WorldFileError::Read {
        path: path_buf(),
        source,
    })?;
    let world: World = serde_json::from_str(&text).map_err(|source| WorldFileError::Parse {
        path: path_buf(),
        source,
    })?;
    world
        .validate_for_load()
        .map_err(|source| WorldFileError::Invalid {
            path: path_buf(),
            source,
        })?;
    Ok(world)
}

/// What a simulation wrote.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Written {
    pub events: u64,
    pub bytes: u64,
}

impl Written {
    /// The line `simulate` ends with (on stderr: stdout may be the trace).
    pub fn summary(&self, output: &Path, took: Duration) -> String {
        format!(
            "Wrote {} events ({} bytes, {:.1} bytes/event) to {} in {:.2}s",
            self.events,
            self.bytes,
            self.bytes as f64 / self.events.max(1) as f64,
            output.display(),
            took.as_secs_f64()
        )
    }
}

/// Events a block carries from the simulation's thread to the writer's: large enough that
/// the hand-over (a channel message, and a wake-up of the writer, which is the faster and
/// waits) is rare, about 670 times in a stress day; small enough that the blocks in flight
/// cost little memory (an `Event` is 64 bytes: 128 KiB a block). Blocks of 4,096 took the same
/// CPU time and 0.4 MB more of RSS in a 7-day stress run; of 1,024, twice the context switches.
const EVENTS_PER_BLOCK: usize = 2048;
/// Full blocks waiting for the writer before the simulation waits for it: the writer is the
/// faster of the two, so this is only slack for a late wake-up.
const BLOCKS_QUEUED: usize = 2;

/// Simulates into `out`, with a progress bar over virtual time on stderr.
///
/// Two threads: the simulation runs on its own, handing its events over in blocks, while this
/// thread encodes them (`TraceWriter`), computes the CRC and writes to `out`. The events and
/// their order are the simulation's, so the bytes are those a single thread writes; `out`
/// stays on the calling thread (it need not be `Send`: standard output's lock is not).
pub fn write_trace<W: Write>(
    header: &TraceHeader,
    config: &SimConfig,
    out: W,
) -> Result<Written, SimulateError> {
    write_trace_in_blocks(header, config, out, EVENTS_PER_BLOCK, BLOCKS_QUEUED)
}

/// Events handed over in one message, and the line `Vec`s of the new orders among them
/// on the way back, for the simulation to reuse.
struct EventBlock {
    events: Vec<Event>,
    spare_lines: Vec<Vec<Line>>,
}

/// `write_trace` with the hand-over's sizes given (the tests run it with tiny ones).
fn write_trace_in_blocks<W: Write>(
    header: &TraceHeader,
    config: &SimConfig,
    out: W,
    events_per_block: usize,
    blocks_queued: usize,
) -> Result<Written, SimulateError> {
    let progress = indicatif::ProgressBar::with_draw_target(
        Some(config.duration.as_ms()),
        indicatif::ProgressDrawTarget::stderr(),
    );
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "simulating {bar:40} {percent:>3}% of virtual time, {msg} (eta {eta})",
        )
        .expect("static template"),
    );
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<EventBlock>(blocks_queued);
    let (spare_tx, spare_rx) = std::sync::mpsc::channel::<EventBlock>();
    let shared = ArrivalsInFlight::default();
    let (written, simulated) = std::thread::scope(|scope| {
        let (feeds, senders) = arrival_channels();
        let (orders_tx, orders_rx) = std::sync::mpsc::channel();
        let streams = StreamDraws::new(&header.world, config);
        let shared = &shared;
        let drawing = std::thread::Builder::new()
            .name("draws".into())
            .spawn_scoped(scope, move || {
                draw_ahead(streams, senders, orders_tx, shared)
            })
            .map_err(SimulateError::Thread)?;
        let fed = FedDraws {
            arrivals: feeds,
            orders: Feed::new(orders_rx),
            shared,
            producer: drawing.thread().clone(),
        };
        let sim = Simulation::with_draws(&header.world, config, fed)?;
        let simulation = std::thread::Builder::new()
            .name("simulation".into())
            .spawn_scoped(scope, move || {
                simulate_in_blocks(sim, full_tx, spare_rx, events_per_block, blocks_queued + 2)
            })
            .map_err(SimulateError::Thread)?;
        // The header is encoded and written while the simulation starts.
        let written = write_blocks(out, header, full_rx, spare_tx, &progress);
        // `write_blocks` dropped the receiver: a simulation still running (the writer stopped
        // on an error) finds its next hand-over refused and stops, so this returns; its
        // arrivals stop when it drops them.
        let simulated = simulation
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok::<_, SimulateError>((written, simulated))
    })?;
    // A write error stops the simulation, so it comes first; a simulation error ends the
    // blocks early, so it comes before the footer would claim a complete trace.
    let writer = written?;
    simulated?;
    progress.finish_and_clear();
    let (footer, bytes, _) = writer.finish()?;
    Ok(Written {
        events: footer.count,
        bytes,
    })
}

/// Arrival times a block carries from the draws' thread to the simulation's: 16 KiB a block.
/// Blocks of 4,096 (and of 1,024 new orders) made the 7-day stress run's RSS 15.0 MB.
const ARRIVALS_PER_BLOCK: usize = 2048;
/// New orders' draws are at most 128 bytes each (a test checks it): blocks of the order
/// arrivals (and of these, drawn with them) stop at this many, 64 KiB. About 600 hand-overs
/// of order arrivals in a stress day, each a wake-up of the draws' thread.
const ORDERS_PER_BLOCK: usize = 512;
/// The first block of each process is small, so that the simulation starts after a few
/// hundred draws, not 16,384; the blocks then grow fourfold to their full size.
const FIRST_ARRIVALS_PER_BLOCK: usize = 256;
/// Blocks of each process waiting for the simulation: the draws' thread has less than half
/// the simulation's instructions, so it stays ahead with room to spare.
const ARRIVAL_BLOCKS_AHEAD: usize = 2;

/// What the draws' thread and the simulation share: the arrival blocks waiting in each
/// process's channel, and whether the simulation has gone.
#[derive(Default)]
struct ArrivalsInFlight {
    waiting: [AtomicUsize; ARRIVAL_PROCESSES],
    stopped: AtomicBool,
}

/// One stream of draws on the simulation's side: the block being read, and the channel the
/// next ones come through.
struct Feed<T> {
    items: Vec<T>,
    next: usize,
    blocks: Receiver<Vec<T>>,
}

impl<T: Copy> Feed<T> {
    fn new(blocks: Receiver<Vec<T>>) -> Feed<T> {
        Feed {
            items: Vec::new(),
            next: 0,
            blocks,
        }
    }

    #[inline(always)]
    fn take(&mut self) -> Option<T> {
        let item = self.items.get(self.next).copied();
        self.next += 1;
        item
    }

    /// The first item of the next block, waiting for it if it is not drawn yet; None once
    /// the sender is gone after its last block.
    #[inline(never)]
    fn next_block(&mut self) -> Option<T> {
        self.items = self.blocks.recv().ok()?;
        self.next = 1;
        self.items.first().copied()
    }
}

fn arrival_channels() -> (
    [Feed<u64>; ARRIVAL_PROCESSES],
    [Sender<Vec<u64>>; ARRIVAL_PROCESSES],
) {
    let channels: [_; ARRIVAL_PROCESSES] = std::array::from_fn(|_| std::sync::mpsc::channel());
    let mut senders = Vec::with_capacity(ARRIVAL_PROCESSES);
    let feeds = channels.map(|(sender, blocks)| {
        senders.push(sender);
        Feed::new(blocks)
    });
    let senders = senders
        .try_into()
        .unwrap_or_else(|_| unreachable!("one sender a process"));
    (feeds, senders)
}

/// The simulation's independent draws, taken ahead on the draws' thread (`draw_ahead`): the
/// same draws, so the same trace, with the thinning's draws and logarithms and the baskets
/// and lifecycles of new orders (about 40 % of the simulation's instructions) off its thread.
struct FedDraws<'s> {
    arrivals: [Feed<u64>; ARRIVAL_PROCESSES],
    orders: Feed<OrderDraws>,
    shared: &'s ArrivalsInFlight,
    producer: std::thread::Thread,
}

impl FedDraws<'_> {
    #[inline(never)]
    fn next_arrival_block(&mut self, process: usize) -> Option<SimTime> {
        let at = self.arrivals[process].next_block()?;
        self.shared.waiting[process].fetch_sub(1, Ordering::AcqRel);
        self.producer.unpark();
        Some(SimTime(at))
    }
}

impl IndependentDraws for FedDraws<'_> {
    #[inline(always)]
    fn next_arrival(&mut self, process: usize) -> Option<SimTime> {
        match self.arrivals[process].take() {
            Some(at) => Some(SimTime(at)),
            None => self.next_arrival_block(process),
        }
    }

    #[inline(always)]
    fn next_order(&mut self) -> Option<OrderDraws> {
        // Drawn and sent with the order arrivals' block they belong to, before it: there
        // when asked for.
        match self.orders.take() {
            Some(draws) => Some(draws),
            None => self.orders.next_block(),
        }
    }
}

impl Drop for FedDraws<'_> {
    /// The simulation is over (or gone on an error): the draws' thread stops drawing.
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.producer.unpark();
    }
}

/// The draws' thread: every arrival process's times, in blocks, keeping
/// `ARRIVAL_BLOCKS_AHEAD` blocks of each waiting for the simulation, and parked while they all
/// are; with each block of order arrivals, as many new orders' draws. A sender is dropped
/// after its last block, which is how the simulation learns that a process has ended.
fn draw_ahead(
    mut streams: StreamDraws,
    senders: [Sender<Vec<u64>>; ARRIVAL_PROCESSES],
    orders: Sender<Vec<OrderDraws>>,
    shared: &ArrivalsInFlight,
) {
    /// The orders process (`ArrivalProcesses`'s numbering): each arrival is a new order.
    const ORDERS: usize = 0;
    let mut senders = senders.map(Some);
    let mut orders = Some(orders);
    let mut size = [FIRST_ARRIVALS_PER_BLOCK; ARRIVAL_PROCESSES];
    loop {
        if shared.stopped.load(Ordering::Acquire) {
            return;
        }
        let mut drew = false;
        for (process, slot) in senders.iter_mut().enumerate() {
            let Some(sender) = slot else { continue };
            if shared.waiting[process].load(Ordering::Acquire) >= ARRIVAL_BLOCKS_AHEAD {
                continue;
            }
            drew = true;
            let full = if process == ORDERS {
                ORDERS_PER_BLOCK
            } else {
                ARRIVALS_PER_BLOCK
            };
            let mut times = Vec::with_capacity(size[process]);
            let mut ended = false;
            while times.len() < size[process] {
                match streams.arrivals.next_arrival(process) {
                    Some(at) => times.push(at.as_ms()),
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            size[process] = (size[process] * 4).min(full);
            if process == ORDERS {
                let draws: Vec<OrderDraws> = times.iter().map(|_| streams.orders.draw()).collect();
                if ended {
                    // After its last block: the simulation then sees the end.
                    let last = orders.take();
                    if let Some(sender) = &last {
                        if !draws.is_empty() && sender.send(draws).is_err() {
                            return;
                        }
                    }
                } else if let Some(sender) = &orders {
                    if sender.send(draws).is_err() {
                        return;
                    }
                }
            }
            if !times.is_empty() {
                shared.waiting[process].fetch_add(1, Ordering::AcqRel);
                if sender.send(times).is_err() {
                    return;
                }
            }
            if ended {
                *slot = None;
            }
        }
        if senders.iter().all(Option::is_none) {
            return;
        }
        if !drew {
            // Woken by the simulation taking a block, or by its end (`FedDraws::drop`); a
            // wake-up that came before this park makes it return at once.
            std::thread::park();
        }
    }
}

/// The simulation's side (its own thread): every event, in order, in blocks of
/// `events_per_block`, through at most `blocks` blocks in all, reused as the writer hands them
/// back, and the line `Vec`s of new orders handed back to the simulation. Returns the number
/// of events handed over: all of them, or fewer when the writer stopped (on an error it
/// reports itself).
fn simulate_in_blocks<A: IndependentDraws>(
    mut sim: Simulation<'_, A>,
    full: std::sync::mpsc::SyncSender<EventBlock>,
    spare: std::sync::mpsc::Receiver<EventBlock>,
    events_per_block: usize,
    blocks: usize,
) -> Result<u64, SimError> {
    let new_block = || EventBlock {
        events: Vec::with_capacity(events_per_block),
        spare_lines: Vec::new(),
    };
    let (mut created, mut handed_over) = (1, 0u64);
    let mut block = new_block();
    let mut lines: Vec<Vec<Line>> = Vec::new();
    while let Some(event) = sim.next_event()? {
        let new_order = matches!(event.action, Action::NewOrder(_));
        block.events.push(event);
        if new_order {
            if let Some(spare) = lines.pop() {
                sim.recycle_lines(spare);
            }
        }
        if block.events.len() == events_per_block {
            if full.send(block).is_err() {
                return Ok(handed_over);
            }
            handed_over += events_per_block as u64;
            block = match spare.try_recv() {
                Ok(block) => block,
                Err(_) if created < blocks => {
                    created += 1;
                    new_block()
                }
                Err(_) => match spare.recv() {
                    Ok(block) => block,
                    Err(_) => return Ok(handed_over),
                },
            };
            lines.append(&mut block.spare_lines);
        }
    }
    let last = block.events.len() as u64;
    if last > 0 && full.send(block).is_ok() {
        handed_over += last;
    }
    Ok(handed_over)
}

/// The writer's side (the calling thread): the header, then every block's events encoded in
/// turn, each block handed back for reuse. Consumes the receiver, so that the simulation sees
/// the writer gone as soon as this returns, on an error too.
fn write_blocks<W: Write>(
    out: W,
    header: &TraceHeader,
    full: std::sync::mpsc::Receiver<EventBlock>,
    spare: std::sync::mpsc::Sender<EventBlock>,
    progress: &indicatif::ProgressBar,
) -> Result<TraceWriter<W>, TraceError> {
    let mut writer = TraceWriter::new(out, header)?;
    for mut block in full {
        for event in block.events.drain(..) {
            writer.write(&event)?;
            if writer.count() % PROGRESS_EVERY == 0 {
                progress.set_position(event.at.as_ms());
                progress.set_message(format!("{} events", writer.count()));
            }
            if let Action::NewOrder(order) = event.action {
                block.spare_lines.push(order.lines);
            }
        }
        // The simulation may have finished and gone: the block is then simply dropped.
        let _ = spare.send(block);
    }
    Ok(writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_events_bytes_and_time() {
        let written = Written {
            events: 4,
            bytes: 90,
        };
        assert_eq!(
            written.summary(Path::new("t.trace"), Duration::from_millis(1_234)),
            "Wrote 4 events (90 bytes, 22.5 bytes/event) to t.trace in 1.23s"
        );
        let empty = Written {
            events: 0,
            bytes: 40,
        };
        assert!(empty
            .summary(Path::new("-"), Duration::ZERO)
            .starts_with("Wrote 0 events (40 bytes, 40.0 bytes/event) to - in 0.00s"));
    }

    #[test]
    fn a_world_file_names_itself_in_every_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.json");
        let err = load_world(&missing).unwrap_err();
        assert!(matches!(err, WorldFileError::Read { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!("cannot read world file {}", missing.display())
        );
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"stores\": 3}").unwrap();
        let err = load_world(&bad).unwrap_err();
        assert!(matches!(err, WorldFileError::Parse { .. }), "{err}");
        let good = dir.path().join("good.json");
        let builtin = crate::world::builtin_world();
        std::fs::write(&good, serde_json::to_string(&builtin).unwrap()).unwrap();
        let loaded = load_world(&good).unwrap();
        assert_eq!(loaded.stores.len(), builtin.stores.len());
        assert_eq!(loaded.inventory.len(), builtin.inventory.len());
    }

    #[test]
    fn a_trace_written_counts_its_events_and_bytes() {
        use clap::Parser;
        let argv = [
            "loadgen",
            "simulate",
            "-o",
            "t",
            "--duration",
            "10m",
            "--seed",
            "3",
        ];
        let args = match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Simulate(args) => args,
            other => panic!("{other:?}"),
        };
        let profile = crate::profile::LoadProfile::named("demo").unwrap();
        let plan = crate::plan::simulate::SimulatePlan::new(&args, profile).unwrap();
        let header = plan.header(crate::world::builtin_world());
        let mut bytes = Vec::new();
        let written = write_trace(&header, &plan.config, &mut bytes).unwrap();
        assert_eq!(written.bytes, bytes.len() as u64);
        let mut reader = crate::trace::TraceReader::new(bytes.as_slice()).unwrap();
        let mut events = 0;
        while reader.next_event().unwrap().is_some() {
            events += 1;
        }
        assert!(events > 0);
        assert_eq!(written.events, events);
    }

    /// The header and config of `simulate --profile PROFILE --duration DURATION --seed 11`.
    fn run_of(profile: &str, duration: &str) -> (TraceHeader, SimConfig) {
        use clap::Parser;
        let argv = [
            "loadgen",
            "simulate",
            "-o",
            "t",
            "--profile",
            profile,
            "--duration",
            duration,
            "--seed",
            "11",
        ];
        let args = match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Simulate(args) => args,
            other => panic!("{other:?}"),
        };
        let profile = crate::profile::LoadProfile::named(profile).unwrap();
        let plan = crate::plan::simulate::SimulatePlan::new(&args, profile).unwrap();
        (plan.header(crate::world::builtin_world()), plan.config)
    }

    /// The trace one thread writes: each event encoded as the simulation produces it.
    fn written_by_one_thread(header: &TraceHeader, config: &SimConfig) -> Vec<u8> {
        let mut sim = Simulation::new(&header.world, config).unwrap();
        let mut writer = TraceWriter::new(Vec::new(), header).unwrap();
        while let Some(event) = sim.next_event().unwrap() {
            writer.write(&event).unwrap();
        }
        writer.finish().unwrap().2
    }

    #[test]
    fn blocks_of_any_size_write_the_bytes_of_one_thread() {
        let (header, config) = run_of("stress", "1h");
        let want = written_by_one_thread(&header, &config);
        // Blocks of one event through a channel without a buffer, blocks that do not divide
        // the events, and the sizes `simulate` uses.
        for (events_per_block, blocks_queued) in [
            (1, 0),
            (2, 0),
            (3, 1),
            (7, 2),
            (EVENTS_PER_BLOCK, BLOCKS_QUEUED),
        ] {
            let mut bytes = Vec::new();
            let written = write_trace_in_blocks(
                &header,
                &config,
                &mut bytes,
                events_per_block,
                blocks_queued,
            )
            .unwrap();
            assert!(
                bytes == want,
                "{events_per_block} events a block, {blocks_queued} queued: {} bytes, want {}",
                bytes.len(),
                want.len()
            );
            assert_eq!(written.bytes, want.len() as u64);
        }
        // Enough events for many blocks of the default size.
        let events = crate::trace::TraceReader::new(want.as_slice())
            .unwrap()
            .count();
        assert!(events > 4 * EVENTS_PER_BLOCK, "{events} events");
    }

    /// Accepts `room` bytes, then fails as a full disk does.
    struct FillsUp<W> {
        out: W,
        room: usize,
    }

    impl<W: Write> Write for FillsUp<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.out.write(&buf[..n])
        }

        fn flush(&mut self) -> std::io::Result<()> {
            self.out.flush()
        }
    }

    /// A write that fails on the writer's side (this thread) is the error `simulate` reports,
    /// with the offset it failed at, and the atomic output leaves no file behind.
    #[test]
    fn a_full_disk_is_the_error_and_leaves_no_file() {
        let (header, config) = run_of("stress", "2h");
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.trace");
        for (room, events_per_block) in [
            (0, EVENTS_PER_BLOCK),
            (300_000, EVENTS_PER_BLOCK),
            (5_000, 3),
        ] {
            let err = crate::output::write_atomically(&target, |file| {
                write_trace_in_blocks(
                    &header,
                    &config,
                    FillsUp { out: file, room },
                    events_per_block,
                    BLOCKS_QUEUED,
                )
            })
            .unwrap_err();
            match &err {
                SimulateError::Trace(TraceError::Io { offset, source }) => {
                    assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{err}");
                    assert!(*offset <= room as u64, "failed at {offset}, room {room}");
                }
                other => panic!("{other:?}"),
            }
            let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert!(left.is_empty(), "room {room}: left behind {left:?}");
        }
    }

    /// The simulation stops soon after the writer does, instead of simulating to the end for
    /// nobody: the events it handed over are the simulation's first ones, in order.
    #[test]
    fn the_simulation_stops_when_the_writer_is_gone() {
        let (header, config) = run_of("stress", "7d");
        let want: Vec<Event> = Simulation::new(&header.world, &config)
            .unwrap()
            .take(40)
            .map(Result::unwrap)
            .collect();
        let sim = Simulation::new(&header.world, &config).unwrap();
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel(1);
        let (spare_tx, spare_rx) = std::sync::mpsc::channel();
        let (handed_over, received) = std::thread::scope(|scope| {
            let simulation = scope.spawn(|| simulate_in_blocks(sim, full_tx, spare_rx, 4, 3));
            // Three blocks taken (one handed back), then the writer is gone.
            let mut received = Vec::new();
            for (n, mut block) in full_rx.iter().take(3).enumerate() {
                received.append(&mut block.events);
                if n == 0 {
                    spare_tx.send(block).unwrap();
                }
            }
            drop((full_rx, spare_tx));
            (simulation.join().unwrap().unwrap(), received)
        });
        assert_eq!(received, want[..12]);
        // The three blocks, and at most the one that waited in the channel.
        assert!((12..=16).contains(&handed_over), "{handed_over}");

        let sim = Simulation::new(&header.world, &config).unwrap();
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel(1);
        let (_spare_tx, spare_rx) = std::sync::mpsc::channel();
        drop(full_rx);
        assert_eq!(simulate_in_blocks(sim, full_tx, spare_rx, 4, 3).unwrap(), 0);
    }

    /// The draws handed over by the draws' thread are the streams' own, in order, across
    /// blocks of every size (the first ones grow), for every process asked at its own pace.
    /// `check` with the draws of `profile` over `duration` fed by a draws' thread, and the
    /// same streams drawn here; the thread is joined when `check` returns.
    fn with_fed_draws(
        profile: &str,
        duration: &str,
        check: impl FnOnce(&mut FedDraws<'_>, &mut StreamDraws),
    ) {
        let (header, config) = run_of(profile, duration);
        let mut want = StreamDraws::new(&header.world, &config);
        let shared = ArrivalsInFlight::default();
        std::thread::scope(|scope| {
            let (feeds, senders) = arrival_channels();
            let (orders_tx, orders_rx) = std::sync::mpsc::channel();
            let streams = StreamDraws::new(&header.world, &config);
            let shared = &shared;
            let drawing = scope.spawn(move || draw_ahead(streams, senders, orders_tx, shared));
            let mut fed = FedDraws {
                arrivals: feeds,
                orders: Feed::new(orders_rx),
                shared,
                producer: drawing.thread().clone(),
            };
            check(&mut fed, &mut want);
        });
    }

    #[test]
    fn fed_draws_are_the_streams_draws() {
        with_fed_draws("stress", "7d", |fed, want| {
            // Orders asked most, as in a simulation; enough for several full blocks of each.
            for step in 0..60_000usize {
                let process = [0, 0, 1, 0, 2, 0, 3][step % 7];
                assert_eq!(
                    fed.next_arrival(process),
                    want.next_arrival(process),
                    "step {step}"
                );
                if process == 0 {
                    assert_eq!(fed.next_order(), want.next_order(), "step {step}");
                }
            }
            // Dropped with blocks still ahead: the draws' thread stops (the scope joins it).
        });
    }

    /// A process that ends hands over its last times, then None; so do the new orders' draws.
    #[test]
    fn fed_draws_end_with_the_processes() {
        with_fed_draws("stress", "10m", |fed, want| {
            for process in 0..ARRIVAL_PROCESSES {
                let mut count = 0;
                while let Some(at) = fed.next_arrival(process) {
                    assert_eq!(Some(at), want.next_arrival(process));
                    if process == 0 {
                        assert_eq!(fed.next_order(), want.next_order());
                    }
                    count += 1;
                }
                assert_eq!(want.next_arrival(process), None);
                assert!(count > 0, "process {process}");
                if process == 0 {
                    assert_eq!(fed.next_order(), None, "no draws past the last order");
                }
            }
        });
    }

    /// A block of new orders' draws is at most 64 KiB.
    #[test]
    fn a_block_of_order_draws_is_at_most_64_kib() {
        assert!(ORDERS_PER_BLOCK * std::mem::size_of::<OrderDraws>() <= 64 * 1024);
    }

    /// The blocks in flight (`BLOCKS_QUEUED` + 2 of them at most) are what the hand-over
    /// costs in memory: 512 KiB.
    #[test]
    fn an_event_block_is_at_most_128_kib() {
        assert!(EVENTS_PER_BLOCK * std::mem::size_of::<Event>() <= 128 * 1024);
    }
}
