//! Which trace events a run sends: the one decision of `replay`, `verify`, `inspect` and
//! `cleanup`. An event is selected when the window admits it (`replay::window`), the run's
//! shard holds its causal root (`causal::Shard`), and, on a resume, it did not succeed before
//! (the checkpoint's completed events). Every event of the trace passes through, from the
//! first: the window tracks which orders it admitted and the `RootTracker` which orders belong
//! to which created customer, so each event comes out with its sequence number and its root.
//!
//! A run reads the trace in two decodes of one input (`trace::input`): a survey before
//! anything is sent (the trace is whole, there is something to send, where the schedule
//! starts) and the feed. Both run the same `SelectionSpec`, so they choose the same events;
//! the survey keeps what it learnt (counts, the first due time, what a resume skips), and the
//! feed checks it chose as many events as the survey said.

use std::io::Read;
use std::sync::Arc;

use crate::causal::{Root, RootTracker, Shard};
use crate::event::Event;
use crate::replay::checkpoint::CompletedSet;
use crate::replay::window::{TraceWindow, WindowFilter};
use crate::trace::format::{Footer, TraceError};
use crate::trace::TraceReader;

/// What a run selects: the window, the shard (`None`: every root) and the events that
/// succeeded in an earlier segment (`None`: not a resume).
#[derive(Clone, Debug)]
pub struct SelectionSpec {
    pub window: TraceWindow,
    pub shard: Option<Shard>,
    pub done: Option<Arc<CompletedSet>>,
}

/// Where one event stands. The window decides first, then the shard, then the resume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Outside the window, or part of an order created outside it.
    OutsideWindow,
    /// In the window, but its root belongs to another shard.
    OtherShard,
    /// Selected, and it succeeded in an earlier segment of the run: not sent again.
    Done,
    /// Selected and still to send.
    Send,
}

/// One event's verdict: its position in the trace (from 0), its root, and the choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub seq: u64,
    pub root: Root,
    pub choice: Choice,
}

impl Verdict {
    /// The window and the shard admit it (sent now, or done before).
    pub fn selected(&self) -> bool {
        matches!(self.choice, Choice::Done | Choice::Send)
    }
}

/// Decides, event by event in trace order, what a run sends.
pub struct Selection {
    window: WindowFilter,
    shard: Option<Shard>,
    done: Option<Arc<CompletedSet>>,
    roots: RootTracker,
    next_seq: u64,
}

impl SelectionSpec {
    /// The whole trace, every root, nothing done.
    pub fn all(duration_ms: u64) -> SelectionSpec {
        SelectionSpec {
            window: TraceWindow::all(duration_ms),
            shard: None,
            done: None,
        }
    }

    /// A selection at the trace's first event.
    pub fn start(&self) -> Selection {
        self.start_with(RootTracker::new())
    }

    /// A selection at the trace's first event for a second pass over a trace whose survey
    /// found `survey.roots_peak` open orders of created customers at most: its root table is
    /// that large from the start.
    pub fn start_after(&self, survey: &Survey) -> Selection {
        self.start_with(RootTracker::with_capacity(survey.roots_peak))
    }

    fn start_with(&self, roots: RootTracker) -> Selection {
        Selection {
            window: WindowFilter::new(self.window),
            shard: self.shard,
            done: self.done.clone(),
            roots,
            next_seq: 0,
        }
    }
}

impl Selection {
    /// The verdict on the trace's next event (every event must be offered, in order).
    pub fn offer(&mut self, event: &Event) -> Verdict {
        let seq = self.next_seq;
        self.next_seq += 1;
        // Both must see every event: each remembers orders by what it saw earlier.
        let root = self.roots.root_of(event);
        let in_window = self.window.admit(event);
        let choice = if !in_window {
            Choice::OutsideWindow
        } else if self.shard.is_some_and(|shard| !shard.holds(root)) {
            Choice::OtherShard
        } else if self.done.as_ref().is_some_and(|done| done.contains(seq)) {
            Choice::Done
        } else {
            Choice::Send
        };
        Verdict { seq, root, choice }
    }

    /// Reads the rest of `reader`, calling `each` with every event and its verdict.
    pub fn read<R: Read>(
        &mut self,
        reader: &mut TraceReader<R>,
        mut each: impl FnMut(Verdict, Event),
    ) -> Result<(), TraceError> {
        while let Some(event) = reader.next_event()? {
            let verdict = self.offer(&event);
            each(verdict, event);
        }
        Ok(())
    }

    /// Reads the rest of `reader`, calling `send` with each event to send, as
    /// `(seq, root, event)`; returns how many it called it with.
    pub fn feed<R: Read>(
        &mut self,
        reader: &mut TraceReader<R>,
        mut send: impl FnMut(u64, Root, Event),
    ) -> Result<u64, TraceError> {
        let mut sent = 0;
        self.read(reader, |verdict, event| {
            if verdict.choice == Choice::Send {
                sent += 1;
                send(verdict.seq, verdict.root, event);
            }
        })?;
        Ok(sent)
    }
}

/// What the survey of a trace found before anything is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Survey {
    pub footer: Footer,
    /// Trace time of the first and the last event, if it has any.
    pub span: Option<(u64, u64)>,
    /// Events the window admits (all shards, done or not).
    pub in_window: u64,
    /// Events the window admits whose root is another shard's.
    pub other_shard: u64,
    /// Events still to send, and the trace time of the first: where the schedule starts.
    pub to_send: u64,
    pub first_to_send: Option<u64>,
    /// Events a resumed run skips because they succeeded before, by activity.
    pub done_by_activity: [u64; 6],
    /// The most open orders of created customers the root tracker held at once.
    pub roots_peak: usize,
}

impl Survey {
    /// Reads the whole trace (to its checked footer) with the selection `spec` makes.
    pub fn of<R: Read>(
        spec: &SelectionSpec,
        reader: &mut TraceReader<R>,
    ) -> Result<Survey, TraceError> {
        let (mut span, mut in_window, mut other_shard) = (None::<(u64, u64)>, 0, 0);
        let (mut to_send, mut first_to_send) = (0, None);
        let mut done_by_activity = [0u64; 6];
        let mut selection = spec.start();
        selection.read(reader, |verdict, event| {
            let at = event.at.as_ms();
            span = Some((span.map_or(at, |(first, _)| first), at));
            in_window += u64::from(verdict.choice != Choice::OutsideWindow);
            match verdict.choice {
                Choice::OutsideWindow => {}
                Choice::OtherShard => other_shard += 1,
                Choice::Done => done_by_activity[event.action.activity().index()] += 1,
                Choice::Send => {
                    first_to_send.get_or_insert(at);
                    to_send += 1;
                }
            }
        })?;
        let footer = reader.footer().ok_or(TraceError::Truncated {
            offset: reader.offset(),
            expected: "the footer",
        })?;
        Ok(Survey {
            footer,
            span,
            in_window,
            other_shard,
            to_send,
            first_to_send,
            done_by_activity,
            roots_peak: selection.roots.peak(),
        })
    }

    /// Events done in earlier segments.
    pub fn done(&self) -> u64 {
        self.done_by_activity.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Action, CustomerRef, Line, NewOrder, OrderStatus};
    use crate::sim::time::SimTime;
    use crate::world::names::Persona;

    fn at(ms: u64, action: Action) -> Event {
        Event {
            at: SimTime(ms),
            action,
        }
    }

    fn order(ms: u64, order: u32, customer: CustomerRef) -> Event {
        at(
            ms,
            Action::NewOrder(NewOrder {
                order,
                customer,
                store: 0,
                window_start_min: 60,
                window_len_min: 60,
                lines: vec![Line {
                    seq: 1,
                    product: 0,
                    quantity: 1,
                }],
                total_cents: 100,
            }),
        )
    }

    fn step(ms: u64, order: u32, to: OrderStatus) -> Event {
        at(
            ms,
            Action::Transition {
                order,
                from: OrderStatus::Created,
                to,
            },
        )
    }

    /// Roots: new customer 2 (seq 1, 2, 5, 8), order 4 of a world customer (seq 0, 4, 7),
    /// order 3 of a world customer (seq 6, 9), item 1 (seq 3).
    fn trace() -> Vec<Event> {
        vec![
            order(100, 4, CustomerRef::Existing(0)), // 0: before the window
            at(
                200,
                Action::NewCustomer {
                    customer: 2,
                    home_store: 0,
                    persona: Persona {
                        first: 0,
                        last: 0,
                        street: 0,
                        house_number: 1,
                    },
                },
            ), // 1
            order(300, 5, CustomerRef::New(2)),      // 2
            at(
                400,
                Action::InventoryUpdate {
                    item: 1,
                    stock_level: 9,
                },
            ), // 3
            step(500, 4, OrderStatus::Picking),      // 4: its order was created before the window
            step(600, 5, OrderStatus::Picking),      // 5
            order(700, 3, CustomerRef::Existing(1)), // 6
            step(800, 4, OrderStatus::Delivered),    // 7
            step(900, 5, OrderStatus::Cancelled),    // 8
            step(1_000, 3, OrderStatus::Picking),    // 9: after the window
        ]
    }

    #[test]
    fn each_event_comes_out_with_its_root() {
        let mut selection = SelectionSpec::all(2_000).start();
        let roots: Vec<Root> = trace().iter().map(|e| selection.offer(e).root).collect();
        let (c, o4, o3, i) = (
            Root::NewCustomer(2),
            Root::Order(4),
            Root::Order(3),
            Root::Item(1),
        );
        assert_eq!(roots, [o4, c, c, i, o4, c, o3, o4, c, o3]);
    }

    /// Every combination of window, resume and shard, with the sequence numbers sent.
    #[test]
    fn every_combination_of_window_resume_and_shard() {
        // The table's shards follow the pinned partition function (`causal`): in 2 shards,
        // shard 0 holds order 3 and item 1, shard 1 the new customer and order 4.
        let partitions = [
            (Root::NewCustomer(2), 1),
            (Root::Order(4), 1),
            (Root::Order(3), 0),
            (Root::Item(1), 0),
        ];
        for (root, partition) in partitions {
            assert_eq!(root.partition(2), partition, "{root}");
        }
        let whole = TraceWindow::all(2_000);
        let window = TraceWindow {
            from_ms: 200,
            to_ms: 1_000,
        };
        let done = [2u64, 3, 7];
        let s = |index| Some(Shard { index, count: 2 });
        type Row = (TraceWindow, bool, Option<Shard>, &'static [u64]);
        let table: [Row; 12] = [
            (whole, false, None, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            (whole, true, None, &[0, 1, 4, 5, 6, 8, 9]),
            (whole, false, s(0), &[3, 6, 9]),
            (whole, false, s(1), &[0, 1, 2, 4, 5, 7, 8]),
            (whole, true, s(0), &[6, 9]),
            (whole, true, s(1), &[0, 1, 4, 5, 8]),
            (window, false, None, &[1, 2, 3, 5, 6, 8]),
            (window, true, None, &[1, 5, 6, 8]),
            (window, false, s(0), &[3, 6]),
            (window, false, s(1), &[1, 2, 5, 8]),
            (window, true, s(0), &[6]),
            (window, true, s(1), &[1, 5, 8]),
        ];
        for (window, resumed, shard, expected) in table {
            let done = resumed.then(|| {
                let mut set = CompletedSet::new(10);
                done.iter().for_each(|&seq| set.insert(seq));
                Arc::new(set)
            });
            let spec = SelectionSpec {
                window,
                shard,
                done,
            };
            let mut selection = spec.start();
            let sent: Vec<u64> = trace()
                .iter()
                .map(|e| selection.offer(e))
                .filter(|v| v.choice == Choice::Send)
                .map(|v| v.seq)
                .collect();
            assert_eq!(
                sent, expected,
                "window {window:?}, resumed {resumed}, shard {shard:?}"
            );
        }
    }

    #[test]
    fn the_shards_of_a_run_partition_its_selection() {
        let window = TraceWindow {
            from_ms: 200,
            to_ms: 1_000,
        };
        let chosen = |shard| {
            let spec = SelectionSpec {
                window,
                shard,
                done: None,
            };
            let mut selection = spec.start();
            trace()
                .iter()
                .map(|e| selection.offer(e))
                .filter(Verdict::selected)
                .map(|v| v.seq)
                .collect::<Vec<_>>()
        };
        let mut union: Vec<u64> = (0..3)
            .flat_map(|index| chosen(Some(Shard { index, count: 3 })))
            .collect();
        union.sort();
        assert_eq!(union, chosen(None), "each event in exactly one shard");
    }

    #[test]
    fn the_survey_counts_what_the_feed_sends() {
        let mut bytes = Vec::new();
        let header = crate::trace::TraceHeader {
            generator: "test".into(),
            seed: 1,
            profile: crate::profile::LoadProfile::named("demo").unwrap(),
            world: crate::world::builtin_world(),
            start: "2026-01-05T09:00:00Z".into(),
            duration_ms: 2_000,
        };
        let mut writer = crate::trace::TraceWriter::new(&mut bytes, &header).unwrap();
        for event in trace() {
            writer.write(&event).unwrap();
        }
        writer.finish().unwrap();
        let mut done = CompletedSet::new(10);
        done.insert(2);
        let spec = SelectionSpec {
            window: TraceWindow {
                from_ms: 200,
                to_ms: 1_000,
            },
            shard: Some(Shard { index: 1, count: 2 }),
            done: Some(Arc::new(done)),
        };
        let mut reader = TraceReader::new(bytes.as_slice()).unwrap();
        let survey = Survey::of(&spec, &mut reader).unwrap();
        assert_eq!(survey.span, Some((100, 1_000)));
        assert_eq!(
            (survey.in_window, survey.other_shard, survey.to_send),
            (6, 2, 3)
        );
        assert_eq!(survey.first_to_send, Some(200));
        assert_eq!(survey.done(), 1);
        assert_eq!(survey.footer.count, 10);
        let mut reader = TraceReader::new(bytes.as_slice()).unwrap();
        let mut fed = Vec::new();
        let count = spec
            .start()
            .feed(&mut reader, |seq, root, _| fed.push((seq, root)))
            .unwrap();
        assert_eq!(count, survey.to_send);
        let c = Root::NewCustomer(2);
        assert_eq!(fed, [(1, c), (5, c), (8, c)]);
        // The survey's peak of remembered orders, and a feed whose table starts that large
        // sends the same.
        let mut tracker = RootTracker::new();
        let peak = trace()
            .iter()
            .map(|e| {
                tracker.root_of(e);
                tracker.remembered()
            })
            .max();
        assert_eq!(Some(survey.roots_peak), peak);
        assert!(survey.roots_peak > 0);
        let mut sized = Vec::new();
        spec.start_after(&survey)
            .feed(
                &mut TraceReader::new(bytes.as_slice()).unwrap(),
                |seq, root, _| sized.push((seq, root)),
            )
            .unwrap();
        assert_eq!(sized, fed);
    }
}
