//! Where the park's "now" comes from: a [`Clock`] handed in from above, never read on the way.
//!
//! The server's sequencer asks its clock for the time it gives [`crate::Park::ingest`] (the
//! future-timestamp check of validation and a quarantined record's `received_at`), for its
//! batch window, and the report cache asks it when a report was built. In service that is
//! [`SystemClock`]; tests use a [`ManualClock`], which moves only when told, so they pause time
//! instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A source of the current time, in milliseconds since the Unix epoch (UTC).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Now, in whole seconds since the Unix epoch (rounded down).
    fn now_s(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The system's wall clock. A time before 1970 reads as 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that stands still until [`ManualClock::set`] or [`ManualClock::advance`] moves it.
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `unix_s` seconds since the Unix epoch.
    pub fn at(unix_s: i64) -> Self {
        ManualClock {
            ms: AtomicI64::new(unix_s.saturating_mul(1000)),
        }
    }

    /// A clock standing at the system clock's present second (tests that need a "now" near
    /// the real one, e.g. for records signed just now).
    pub fn at_system_now() -> Self {
        Self::at(SystemClock.now_s())
    }

    /// Sets the clock to `unix_s` seconds since the Unix epoch.
    pub fn set(&self, unix_s: i64) {
        self.ms.store(unix_s.saturating_mul(1000), Ordering::SeqCst);
    }

    /// Moves the clock forward by `by` (saturating).
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        // fetch_update with a closure that always returns Some never fails.
        let _ = self
            .ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |ms| {
                Some(ms.saturating_add(by))
            });
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = ManualClock::at(1_700_000_000);
        assert_eq!(c.now_s(), 1_700_000_000);
        assert_eq!(c.now_ms(), 1_700_000_000_000);
        c.advance(Duration::from_millis(1_500));
        assert_eq!(c.now_ms(), 1_700_000_001_500);
        assert_eq!(c.now_s(), 1_700_000_001);
        c.set(5);
        assert_eq!(c.now_s(), 5);
    }

    #[test]
    fn whole_seconds_round_down_before_the_epoch_too() {
        let c = ManualClock::at(0);
        c.advance(Duration::from_millis(999));
        assert_eq!(c.now_s(), 0);
        c.set(-1);
        c.advance(Duration::from_millis(1));
        assert_eq!(c.now_ms(), -999);
        assert_eq!(c.now_s(), -1);
    }
}
