//! From register reads to interval values: pure, no clock (the read's time is an argument).
//!
//! A cumulative register is read just after each interval boundary `b` (within the
//! tolerance); the interval `[b − I, b)` is the difference of the reads at `b − I` and `b`. The
//! energy used between the boundary and its read is counted in the interval before: each
//! interval is shifted by at most the tolerance, and the sum over intervals is exact (every
//! Wh between the first and the last read is counted once).
//!
//! - **Rollover**: a register that goes from near its rollover value to near zero rolled
//!   over; the difference is taken modulo the rollover.
//! - **Meter replacement** (or a reset): a register that goes back otherwise. The span's
//!   energy is unknown: it is reported as a gap, and the new register is the next baseline.
//! - **Missed reads**: a span of several intervals. If its length is one of the park's
//!   interval lengths and its start is aligned to it (two missed 900 s intervals starting at
//!   a half hour: one 1800 s interval), it is one value of that length; otherwise a gap that
//!   names the span and its energy. A value is never split across intervals by guessing.
//! - **The clock**: reads are placed by the gateway's clock. A clock that goes back (before a
//!   boundary already read) is ignored until it passes that boundary again, and reported.

use serde::{Deserialize, Serialize};

use crate::config::Mode;

/// A boundary read kept as the baseline of the next interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundaryRead {
    /// The boundary, Unix seconds.
    pub boundary: i64,
    /// The register, in the upload's fixed point.
    pub value: i128,
}

/// One meter's reads turned into intervals. Serializable: the outbox keeps it with the
/// intervals it produced, so a restart continues from the last boundary read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accumulator {
    /// Interval length, seconds.
    pub interval_s: u32,
    /// How long after a boundary a read counts as the boundary's.
    pub tolerance_s: i64,
    /// Register rollover in fixed point, if the register rolls over.
    pub rollover: Option<i128>,
    /// Cumulative or interval register.
    pub mode: ModeState,
    /// The last boundary read.
    pub last: Option<BoundaryRead>,
}

/// [`Mode`] in a serializable form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModeState {
    /// Cumulative register.
    Cumulative,
    /// Interval register.
    Interval,
}

/// What a read produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A value to upload: `value` over `[start, start + interval_s)`.
    Interval {
        /// Start, Unix seconds.
        start: i64,
        /// Length, seconds (the park's interval, or a longer allowed one after missed reads).
        interval_s: u32,
        /// The amount, in the upload's fixed point.
        value: i64,
    },
    /// A span the gateway cannot upload honestly.
    Gap {
        /// Start, Unix seconds.
        start: i64,
        /// End (exclusive), Unix seconds.
        end: i64,
        /// Why.
        reason: GapReason,
    },
    /// The read came after the tolerance: not a boundary read, not used.
    Late {
        /// Seconds after the boundary.
        after_s: i64,
    },
    /// The clock is before the last boundary read: the read is not used.
    ClockBack {
        /// The last boundary read.
        last: i64,
        /// The read's time.
        now: i64,
    },
}

/// Why a span has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GapReason {
    /// Reads were missed and the span is not one allowed interval: its energy, known, is
    /// reported but not uploaded (splitting it would invent a profile).
    MissedReads {
        /// The energy over the span (fixed point).
        energy: i128,
    },
    /// The register went back from `old` to `new`: a replaced or reset meter. The span's
    /// energy is unknown.
    RegisterBack {
        /// The last read before.
        old: i128,
        /// The read after.
        new: i128,
    },
    /// An interval register was not read after each boundary of the span.
    NotRead,
    /// A value does not fit an upload (above 2^63 in fixed point).
    OutOfRange {
        /// The value.
        value: i128,
    },
}

impl std::fmt::Display for GapReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GapReason::MissedReads { energy } => write!(
                f,
                "the reads at the boundaries inside were missed; {energy} (fixed point) used over the span, not uploaded"
            ),
            GapReason::RegisterBack { old, new } => write!(
                f,
                "the register went back from {old} to {new} (meter replaced or reset); the span's energy is unknown"
            ),
            GapReason::NotRead => write!(f, "the interval register was not read after the boundary"),
            GapReason::OutOfRange { value } => write!(f, "value {value} does not fit an upload"),
        }
    }
}

impl Accumulator {
    /// A new accumulator, with no baseline yet.
    pub fn new(interval_s: u32, tolerance_s: i64, rollover: Option<i128>, mode: Mode) -> Self {
        Accumulator {
            interval_s,
            tolerance_s,
            rollover,
            mode: match mode {
                Mode::Cumulative => ModeState::Cumulative,
                Mode::Interval => ModeState::Interval,
            },
            last: None,
        }
    }

    /// The boundary a read at `now` belongs to, if it is within the tolerance of one and not
    /// already read.
    pub fn wants_read(&self, now: i64) -> bool {
        let i = i64::from(self.interval_s);
        let b = now.div_euclid(i) * i;
        now - b <= self.tolerance_s && self.last.is_none_or(|l| b > l.boundary)
    }

    /// Takes the register `value` (fixed point) read at `now` (Unix seconds).
    pub fn read(&mut self, now: i64, value: i128) -> Vec<Event> {
        let i = i64::from(self.interval_s);
        let b = now.div_euclid(i) * i;
        if now - b > self.tolerance_s {
            return vec![Event::Late { after_s: now - b }];
        }
        let Some(last) = self.last else {
            self.last = Some(BoundaryRead { boundary: b, value });
            return Vec::new();
        };
        if b == last.boundary {
            return Vec::new();
        }
        if b < last.boundary {
            return vec![Event::ClockBack {
                last: last.boundary,
                now,
            }];
        }
        self.last = Some(BoundaryRead { boundary: b, value });
        match self.mode {
            ModeState::Cumulative => self.cumulative(last, b, value),
            ModeState::Interval => interval_register(last.boundary, b, i, value),
        }
    }

    fn cumulative(&self, last: BoundaryRead, b: i64, value: i128) -> Vec<Event> {
        let mut delta = value - last.value;
        if delta < 0 {
            match self.rollover {
                // Near the top before, near zero after: rolled over.
                Some(r) if last.value >= r - r / 10 && value <= r / 10 => delta += r,
                _ => {
                    return vec![Event::Gap {
                        start: last.boundary,
                        end: b,
                        reason: GapReason::RegisterBack {
                            old: last.value,
                            new: value,
                        },
                    }]
                }
            }
        }
        let span = b - last.boundary;
        let Ok(value) = i64::try_from(delta) else {
            return vec![Event::Gap {
                start: last.boundary,
                end: b,
                reason: GapReason::OutOfRange { value: delta },
            }];
        };
        match u32::try_from(span) {
            Ok(len)
                if tanji_units::is_allowed_interval(len) && last.boundary.rem_euclid(span) == 0 =>
            {
                vec![Event::Interval {
                    start: last.boundary,
                    interval_s: len,
                    value,
                }]
            }
            _ => vec![Event::Gap {
                start: last.boundary,
                end: b,
                reason: GapReason::MissedReads { energy: delta },
            }],
        }
    }
}

fn interval_register(last_b: i64, b: i64, i: i64, value: i128) -> Vec<Event> {
    let mut events = Vec::new();
    if b - last_b > i {
        events.push(Event::Gap {
            start: last_b,
            end: b - i,
            reason: GapReason::NotRead,
        });
    }
    events.push(match i64::try_from(value) {
        Ok(v) => Event::Interval {
            start: b - i,
            interval_s: i as u32,
            value: v,
        },
        Err(_) => Event::Gap {
            start: b - i,
            end: b,
            reason: GapReason::OutOfRange { value },
        },
    });
    events
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z, a boundary of every length.

    fn acc() -> Accumulator {
        Accumulator::new(900, 60, Some(100_000_000_000), Mode::Cumulative)
    }

    fn iv(start: i64, interval_s: u32, value: i64) -> Event {
        Event::Interval {
            start,
            interval_s,
            value,
        }
    }

    #[test]
    fn boundary_reads_make_intervals() {
        let mut a = acc();
        assert_eq!(a.read(T0 + 5, 1_000), vec![]);
        assert!(!a.wants_read(T0 + 30));
        assert_eq!(a.read(T0 + 30, 1_010), vec![], "second read of a boundary");
        assert_eq!(a.read(T0 + 400, 1_020), vec![Event::Late { after_s: 400 }]);
        assert!(a.wants_read(T0 + 900));
        assert_eq!(a.read(T0 + 902, 1_500), vec![iv(T0, 900, 500)]);
        assert_eq!(a.read(T0 + 1800 + 59, 1_600), vec![iv(T0 + 900, 900, 100)]);
    }

    #[test]
    fn rollover_is_counted_modulo() {
        let mut a = acc();
        a.read(T0, 99_999_999_000);
        assert_eq!(a.read(T0 + 900, 2_000), vec![iv(T0, 900, 3_000)]);
    }

    #[test]
    fn a_register_going_back_is_a_replacement_gap() {
        let mut a = acc();
        a.read(T0, 5_000_000);
        assert_eq!(
            a.read(T0 + 900, 120),
            vec![Event::Gap {
                start: T0,
                end: T0 + 900,
                reason: GapReason::RegisterBack {
                    old: 5_000_000,
                    new: 120
                }
            }]
        );
        // The new meter is the baseline.
        assert_eq!(a.read(T0 + 1800, 220), vec![iv(T0 + 900, 900, 100)]);
    }

    #[test]
    fn missed_reads_make_a_longer_interval_or_a_gap() {
        let mut a = acc();
        a.read(T0, 0);
        // T0 + 900 missed: T0..T0+1800 is one aligned 1800 s interval.
        assert_eq!(a.read(T0 + 1800, 700), vec![iv(T0, 1800, 700)]);
        // T0+2700 missed: T0+1800..T0+3600 is 1800 s aligned too.
        assert_eq!(a.read(T0 + 3600, 900), vec![iv(T0 + 1800, 1800, 200)]);
        // T0+4500 read; T0+5400 and +6300 missed: 2700 s is no allowed length.
        assert_eq!(a.read(T0 + 4500, 1000), vec![iv(T0 + 3600, 900, 100)]);
        assert_eq!(
            a.read(T0 + 7200, 1300),
            vec![Event::Gap {
                start: T0 + 4500,
                end: T0 + 7200,
                reason: GapReason::MissedReads { energy: 300 }
            }]
        );
        // A whole-hour span aligned to the hour is one 3600 s value; the same length
        // misaligned (from :15) is a gap.
        assert_eq!(a.read(T0 + 10_800, 1400), vec![iv(T0 + 7200, 3600, 100)]);
        a.read(T0 + 11_700, 1500);
        assert!(matches!(
            a.read(T0 + 15_300, 1600).as_slice(),
            [Event::Gap {
                reason: GapReason::MissedReads { energy: 100 },
                ..
            }]
        ));
    }

    #[test]
    fn a_clock_going_back_is_ignored_until_it_passes_the_last_read() {
        let mut a = acc();
        a.read(T0 + 3600, 100);
        assert_eq!(
            a.read(T0 + 10, 50),
            vec![Event::ClockBack {
                last: T0 + 3600,
                now: T0 + 10
            }]
        );
        assert_eq!(a.read(T0 + 4500, 200), vec![iv(T0 + 3600, 900, 100)]);
    }

    #[test]
    fn interval_registers() {
        let mut a = Accumulator::new(900, 60, None, Mode::Interval);
        a.read(T0, 7);
        assert_eq!(a.read(T0 + 900, 40), vec![iv(T0, 900, 40)]);
        assert_eq!(
            a.read(T0 + 2700, 60),
            vec![
                Event::Gap {
                    start: T0 + 900,
                    end: T0 + 1800,
                    reason: GapReason::NotRead
                },
                iv(T0 + 1800, 900, 60)
            ]
        );
    }

    #[test]
    fn state_survives_serialization() {
        let mut a = acc();
        a.read(T0, 42);
        let back: Accumulator = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }
}
