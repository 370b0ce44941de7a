//! Order statistics of a sliding window: counts per distinct value in a Fenwick tree, so a
//! value enters or leaves the window, and the window's k-th smallest value is found, in
//! O(log u) for u distinct values in the series. The median and MAD read from it are exactly
//! those of [`crate::median`] and [`crate::median_mad`] over the window's values.

/// A multiset of values drawn from a fixed, sorted set of distinct values.
pub(crate) struct RankCounts<'a> {
    /// The distinct values any window may hold, ascending.
    values: &'a [i64],
    /// Fenwick tree (1-based) of counts per index of `values`.
    tree: Vec<u32>,
    /// Values held.
    len: usize,
    /// Largest power of two not above `values.len()` (the descent's first step).
    top: usize,
}

impl<'a> RankCounts<'a> {
    /// An empty window over `values` (sorted ascending, no duplicates).
    pub(crate) fn new(values: &'a [i64]) -> RankCounts<'a> {
        let top = if values.is_empty() {
            0
        } else {
            1 << (usize::BITS - 1 - values.len().leading_zeros())
        };
        RankCounts {
            values,
            tree: vec![0; values.len() + 1],
            len: 0,
            top,
        }
    }

    /// Values held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The rank of `x` among the distinct values, `None` if it is not one of them.
    pub(crate) fn rank(&self, x: i64) -> Option<usize> {
        self.values.binary_search(&x).ok()
    }

    /// Adds the value of rank `r` (from [`RankCounts::rank`]).
    pub(crate) fn insert(&mut self, r: usize) {
        self.len += 1;
        let mut i = r + 1;
        while let Some(c) = self.tree.get_mut(i) {
            *c += 1;
            i += i & i.wrapping_neg();
        }
    }

    /// Removes one value of rank `r` (which must be held).
    pub(crate) fn remove(&mut self, r: usize) {
        self.len = self.len.saturating_sub(1);
        let mut i = r + 1;
        while let Some(c) = self.tree.get_mut(i) {
            *c = c.saturating_sub(1);
            i += i & i.wrapping_neg();
        }
    }

    /// How many held values lie in the first `n` distinct values.
    fn prefix(&self, n: usize) -> usize {
        let mut sum = 0usize;
        let mut i = n;
        while i > 0 {
            sum += self.tree.get(i).copied().map_or(0, |c| c as usize);
            i &= i - 1;
        }
        sum
    }

    /// The `k`-th smallest held value (0-based); `None` when `k >= len`.
    fn kth(&self, k: usize) -> Option<i64> {
        if k >= self.len {
            return None;
        }
        // Descend to the largest position whose prefix count is at most k.
        let (mut pos, mut rest, mut step) = (0usize, k, self.top);
        while step > 0 {
            let next = pos + step;
            if let Some(&c) = self.tree.get(next) {
                if (c as usize) <= rest {
                    pos = next;
                    rest -= c as usize;
                }
            }
            step >>= 1;
        }
        self.values.get(pos).copied()
    }

    /// The median as [`crate::median`] computes it; `None` when empty.
    pub(crate) fn median(&self) -> Option<i64> {
        let mid = self.len / 2;
        let hi = self.kth(mid)?;
        if self.len % 2 == 1 {
            return Some(hi);
        }
        let lo = self.kth(mid - 1)?;
        Some(((i128::from(lo) + i128::from(hi)).div_euclid(2)) as i64)
    }

    /// The `k`-th smallest absolute deviation from `m` (0-based), saturated at `i64::MAX`
    /// as [`crate::median_mad`] saturates it; 0 when `k >= len`. The deviations of the values
    /// up to `m`, taken downwards, and of those above it, taken upwards, are two ascending
    /// sequences read through [`RankCounts::kth`]; the k-th of their union is found by
    /// bisecting how many come from the first.
    fn kth_deviation(&self, m: i64, k: usize) -> i64 {
        if k >= self.len {
            return 0;
        }
        let below = self.prefix(self.values.partition_point(|&y| y <= m));
        let above = self.len - below;
        let a = |t: usize| self.kth(below - 1 - t).map_or(0, |x| x.abs_diff(m));
        let b = |t: usize| self.kth(below + t).map_or(0, |x| x.abs_diff(m));
        // Take i from the first sequence and k + 1 − i from the second: the least i whose
        // next first-sequence deviation is not below the last one taken from the second.
        let take = k + 1;
        let (mut lo, mut hi) = (take.saturating_sub(above), take.min(below));
        while lo < hi {
            let i = lo + (hi - lo) / 2;
            if b(take - i - 1) > a(i) {
                lo = i + 1;
            } else {
                hi = i;
            }
        }
        let (i, j) = (lo, take - lo);
        let last_a = if i > 0 { a(i - 1) } else { 0 };
        let last_b = if j > 0 { b(j - 1) } else { 0 };
        i64::try_from(last_a.max(last_b)).unwrap_or(i64::MAX)
    }

    /// The median absolute deviation from `m` as [`crate::median_mad`] computes it; `None`
    /// when empty.
    pub(crate) fn mad(&self, m: i64) -> Option<i64> {
        if self.len == 0 {
            return None;
        }
        let mid = self.len / 2;
        let hi = self.kth_deviation(m, mid);
        if self.len % 2 == 1 {
            return Some(hi);
        }
        let lo = self.kth_deviation(m, mid - 1);
        Some(((i128::from(lo) + i128::from(hi)).div_euclid(2)) as i64)
    }
}
