//! Virtual time: `SimTime` (milliseconds since the trace start) and the calendar that maps it
//! to a time of day for the peak-hour multipliers. Nothing here reads the wall clock.

use chrono::{DateTime, FixedOffset, Timelike};
use serde::{Deserialize, Serialize};

/// Milliseconds since the start of the trace.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimTime(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);

    pub fn from_minutes_f64(minutes: f64) -> SimTime {
        SimTime((minutes * MS_PER_MINUTE as f64).round() as u64)
    }

    pub fn as_ms(self) -> u64 {
        self.0
    }

    pub fn as_minutes_f64(self) -> f64 {
        self.0 as f64 / MS_PER_MINUTE as f64
    }

    pub fn saturating_add_ms(self, ms: u64) -> SimTime {
        SimTime(self.0.saturating_add(ms))
    }
}

impl std::fmt::Display for SimTime {
    /// `HH:MM:SS.mmm` since the trace start (hours may exceed 24).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0 % 1000;
        let s = self.0 / 1000;
        write!(
            f,
            "{:02}:{:02}:{:02}.{ms:03}",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }
}

pub const MS_PER_MINUTE: u64 = 60_000;
pub const MS_PER_HOUR: u64 = 60 * MS_PER_MINUTE;
pub const MS_PER_DAY: u64 = 24 * MS_PER_HOUR;

/// The largest time-of-day multiplier; arrivals are drawn at this rate and thinned.
pub const PEAK_MULTIPLIER_MAX: f64 = 2.5;

/// The spec's time-of-day multiplier for an hour of the local day (0–23): 1.5x 07–09, 2x 11–13,
/// 2.5x 17–20, 0.3x 22–06, 1x otherwise.
pub fn peak_multiplier(hour: u32) -> f64 {
    match hour {
        7 | 8 => 1.5,
        11 | 12 => 2.0,
        17..=19 => 2.5,
        22 | 23 | 0..=5 => 0.3,
        _ => 1.0,
    }
}

/// Maps virtual time onto the local calendar of the trace's start instant (its UTC offset,
/// not the machine's time zone).
#[derive(Clone, Debug)]
pub struct Calendar {
    start: DateTime<FixedOffset>,
    start_ms_of_day: u64,
}

impl Calendar {
    pub fn new(start: DateTime<FixedOffset>) -> Calendar {
        let start_ms_of_day = u64::from(start.num_seconds_from_midnight()) * 1000
            + u64::from(start.timestamp_subsec_millis());
        Calendar {
            start,
            start_ms_of_day,
        }
    }

    pub fn start(&self) -> DateTime<FixedOffset> {
        self.start
    }

    /// Local hour of day (0–23) at `t`.
    pub fn hour_at(&self, t: SimTime) -> u32 {
        ((self.start_ms_of_day + t.0) % MS_PER_DAY / MS_PER_HOUR) as u32
    }

    pub fn multiplier_at(&self, t: SimTime) -> f64 {
        peak_multiplier(self.hour_at(t))
    }

    /// The first time at or after `after_ms` whose local time of day is `ms_of_day`.
    pub fn next_time_of_day(&self, after_ms: u64, ms_of_day: u64) -> u64 {
        let now = (self.start_ms_of_day + after_ms) % MS_PER_DAY;
        after_ms + (ms_of_day % MS_PER_DAY + MS_PER_DAY - now) % MS_PER_DAY
    }

    /// The local wall-clock instant of `t`.
    pub fn instant_at(&self, t: SimTime) -> DateTime<FixedOffset> {
        self.start + chrono::Duration::milliseconds(t.0 as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_for_every_hour() {
        let expected = [
            0.3, 0.3, 0.3, 0.3, 0.3, 0.3, // 00–06
            1.0, // 06
            1.5, 1.5, // 07–09
            1.0, 1.0, // 09–11
            2.0, 2.0, // 11–13
            1.0, 1.0, 1.0, 1.0, // 13–17
            2.5, 2.5, 2.5, // 17–20
            1.0, 1.0, // 20–22
            0.3, 0.3, // 22–24
        ];
        for (hour, want) in expected.iter().enumerate() {
            assert_eq!(peak_multiplier(hour as u32), *want, "hour {hour}");
        }
        let max = (0..24).map(peak_multiplier).fold(0.0, f64::max);
        assert_eq!(max, PEAK_MULTIPLIER_MAX);
    }

    #[test]
    fn calendar_uses_the_start_offset_not_the_machine_zone() {
        let start = DateTime::parse_from_rfc3339("2026-01-05T16:30:00-05:00").unwrap();
        let cal = Calendar::new(start);
        assert_eq!(cal.hour_at(SimTime::ZERO), 16);
        assert_eq!(cal.hour_at(SimTime(30 * MS_PER_MINUTE)), 17);
        assert_eq!(cal.multiplier_at(SimTime(30 * MS_PER_MINUTE)), 2.5);
        // Wraps past midnight.
        assert_eq!(cal.hour_at(SimTime(8 * MS_PER_HOUR)), 0);
        assert_eq!(
            cal.instant_at(SimTime(MS_PER_HOUR)).to_rfc3339(),
            "2026-01-05T17:30:00-05:00"
        );
    }

    #[test]
    fn display_is_hours_minutes_seconds() {
        assert_eq!(
            SimTime(25 * MS_PER_HOUR + 61_001).to_string(),
            "25:01:01.001"
        );
    }
}
