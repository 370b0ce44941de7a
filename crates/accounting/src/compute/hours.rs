//! Per-hour aggregates of the period's electricity (grid import, export, PV, supply of
//! instruments), shared by the location-based and market-based stages.

use super::HOUR;

#[derive(Default)]
pub(super) struct HourAgg {
    /// Whether any electricity or PV interval starts in this hour (only those hours count).
    pub(super) present: bool,
    pub(super) import_wh: i64,
    /// Sum of the import intervals' location-based g.
    pub(super) import_g: i64,
    pub(super) pv_wh: i64,
    pub(super) export_wh: i64,
    pub(super) uncovered: f64,
    /// What instruments deliver in this hour, for hourly supply; boxed, as most hours of most
    /// enterprises have none (8 bytes here instead of an empty `Vec`'s 24).
    #[allow(clippy::box_collection)]
    pub(super) supply: Option<Box<Vec<Supply>>>,
}

/// Energy an instrument delivers in one hour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Supply {
    /// Index of the instrument.
    pub(super) instrument: usize,
    /// Wh delivered in the hour.
    pub(super) wh: f64,
}

impl HourAgg {
    /// What instruments deliver in this hour.
    pub(super) fn supply(&self) -> &[Supply] {
        self.supply.as_deref().map_or(&[], Vec::as_slice)
    }
}

/// Per-hour aggregates, one slot per hour from the first to the last hour any electricity or
/// PV interval starts in (a period is at most [`super::MAX_PERIOD_S`] long, so this stays small).
pub(super) struct Hours {
    /// Start of the first slot's hour.
    pub(super) first: i64,
    pub(super) slots: Vec<HourAgg>,
}

impl Hours {
    /// Slots for the hours of `[from, to]` (Unix seconds; none if `to < from`).
    pub(super) fn new(from: i64, to: i64) -> Hours {
        let first = from.div_euclid(HOUR) * HOUR;
        let n = if to < from {
            0
        } else {
            usize::try_from((to.div_euclid(HOUR) * HOUR - first) / HOUR + 1).unwrap_or(0)
        };
        Hours {
            first,
            slots: (0..n).map(|_| HourAgg::default()).collect(),
        }
    }

    pub(super) fn start(&self, i: usize) -> i64 {
        self.first + i as i64 * HOUR
    }

    pub(super) fn index(&self, t: i64) -> Option<usize> {
        let i = usize::try_from((t - self.first).div_euclid(HOUR)).ok()?;
        (i < self.slots.len()).then_some(i)
    }

    /// The slot of the hour `t` falls in, marked present. `t` must lie within the hours given
    /// to `new`.
    pub(super) fn touch_slot(&mut self, t: i64) -> usize {
        let i = self.index(t).unwrap_or(usize::MAX);
        self.slots[i].present = true;
        i
    }

    /// The hour starting at `hour`, if present.
    pub(super) fn get(&self, hour: i64) -> Option<&HourAgg> {
        self.index(hour)
            .map(|i| &self.slots[i])
            .filter(|h| h.present && hour.rem_euclid(HOUR) == 0)
    }

    /// Slot indices of the hours starting in `[from, to)`.
    pub(super) fn range(&self, from: i64, to: i64) -> std::ops::Range<usize> {
        let ceil = |t: i64| {
            let d = i128::from(t) - i128::from(self.first);
            let i = -((-d).div_euclid(i128::from(HOUR)));
            usize::try_from(i.clamp(0, self.slots.len() as i128)).unwrap_or(0)
        };
        let (a, b) = (ceil(from), ceil(to));
        a..b.max(a)
    }

    /// Present hours starting in `[from, to)`, with their start, in order.
    pub(super) fn iter_range(&self, from: i64, to: i64) -> impl Iterator<Item = (i64, &HourAgg)> {
        self.range(from, to)
            .map(|i| (self.start(i), &self.slots[i]))
            .filter(|(_, h)| h.present)
    }

    /// [`Hours::iter_range`], mutable.
    pub(super) fn iter_range_mut(
        &mut self,
        from: i64,
        to: i64,
    ) -> impl Iterator<Item = (i64, &mut HourAgg)> {
        let range = self.range(from, to);
        let first = self.first + range.start as i64 * HOUR;
        self.slots[range]
            .iter_mut()
            .enumerate()
            .map(move |(k, h)| (first + k as i64 * HOUR, h))
            .filter(|(_, h)| h.present)
    }

    /// Every present hour, in order.
    pub(super) fn values(&self) -> impl Iterator<Item = &HourAgg> {
        self.slots.iter().filter(|h| h.present)
    }

    /// [`Hours::values`], mutable.
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut HourAgg> {
        self.slots.iter_mut().filter(|h| h.present)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_cover_the_hours_from_the_first_to_the_last_start() {
        // 00:30 to 02:15 of day 0: three hours, 0, 3600 and 7200.
        let mut h = Hours::new(1_800, 8_100);
        assert_eq!((h.first, h.slots.len()), (0, 3));
        assert_eq!(
            (h.index(3_599), h.index(7_200), h.index(10_800)),
            (Some(0), Some(2), None)
        );
        assert_eq!(h.index(-1), None);
        // Only touched hours are present.
        assert_eq!(h.touch_slot(4_000), 1);
        assert!(h.get(3_600).is_some());
        assert!(h.get(0).is_none());
        assert!(h.get(3_601).is_none(), "not an hour start");
        assert_eq!(h.values().count(), 1);
        // None when the last start is before the first.
        assert_eq!(Hours::new(10, 5).slots.len(), 0);
    }

    #[test]
    fn range_takes_the_hours_starting_in_a_half_open_window() {
        let mut h = Hours::new(0, 5 * HOUR);
        for t in [0, HOUR, 2 * HOUR, 4 * HOUR] {
            h.touch_slot(t);
        }
        // [00:30, 04:00): the hours starting at 01:00, 02:00 and 03:00.
        assert_eq!(h.range(1_800, 4 * HOUR), 1..4);
        // Of those, 03:00 is not present.
        let starts: Vec<i64> = h.iter_range(1_800, 4 * HOUR).map(|(t, _)| t).collect();
        assert_eq!(starts, [HOUR, 2 * HOUR]);
        for (_, a) in h.iter_range_mut(0, HOUR + 1) {
            a.import_wh += 5;
        }
        assert_eq!(
            h.slots.iter().map(|a| a.import_wh).collect::<Vec<_>>(),
            [5, 5, 0, 0, 0, 0]
        );
        // Clamped to the slots; an inverted window is empty.
        assert_eq!(h.range(-10 * HOUR, 100 * HOUR), 0..6);
        assert!(h.range(3 * HOUR, HOUR).is_empty());
    }
}
