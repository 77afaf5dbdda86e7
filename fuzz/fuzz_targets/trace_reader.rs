//! Fuzz target: any bytes given to the trace reader end in events or a `TraceError`, never a
//! panic, a hang or an unbounded allocation; and whatever the reader accepts, inspect and
//! export can process.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadgen::sim::time::Calendar;
use loadgen::trace::export::export_row;
use loadgen::trace::summary::TraceSummary;
use loadgen::trace::TraceReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = TraceReader::new(data) else {
        return;
    };
    let header = reader.header().clone();
    let Ok(start) = header.start_instant() else {
        return;
    };
    let calendar = Calendar::new(start);
    let mut summary = TraceSummary::new(header.duration_ms);
    while let Ok(Some(event)) = reader.next_event() {
        summary.add(&event);
        let _ = export_row(&header.world, &calendar, reader.events_read(), &event);
    }
});
