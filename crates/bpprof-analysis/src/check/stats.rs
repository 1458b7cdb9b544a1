//! The statistics of `bpprof check`: medians and a bootstrap confidence interval of the change of
//! the median between two sides, each side a set of recordings and each recording a set of
//! per-window values.
//!
//! The bootstrap is hierarchical: a resample of a side draws its recordings with replacement, then
//! the windows of each drawn recording with replacement, and takes the median of the pooled draw.
//! With one recording per side it is the ordinary bootstrap of the windows; with several it also
//! carries the variation between runs, which windows of one run cannot show. The resampling is
//! seeded, so the same inputs always give the same interval.

use crate::median::median;

/// A change between two medians with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Interval {
    /// The change of the pooled medians.
    pub estimate: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
}

/// A small seeded pseudo-random generator (SplitMix64): fast, and the same sequence on every
/// platform.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (`n` > 0), by multiply-shift (bias below 2^-32 for any `n` used
    /// here).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// The median of every window of every recording of a side.
pub(crate) fn pooled_median(side: &[Vec<f64>]) -> Option<f64> {
    let mut all: Vec<f64> = side.iter().flatten().copied().collect();
    median(&mut all)
}

/// The change from `base` to `current`: `current / base - 1` when `relative`, else
/// `current - base`. A relative change from 0 to 0 is none (0); from 0 to anything else (or from
/// a negative base) it is undefined: `None`. Never a NaN or an infinity.
pub(crate) fn change(base: f64, current: f64, relative: bool) -> Option<f64> {
    let change = if relative {
        if base == 0.0 && current == 0.0 {
            0.0
        } else if base > 0.0 {
            current / base - 1.0
        } else {
            return None;
        }
    } else {
        current - base
    };
    change.is_finite().then_some(change)
}

/// The change of the pooled median from `base` to `current` with its bootstrap interval at
/// confidence `level` (e.g. 0.99), from `resamples` hierarchical resamples of each side.
///
/// `None` when a side has no value or the change is undefined (a relative change from 0).
pub(crate) fn change_interval(
    base: &[Vec<f64>],
    current: &[Vec<f64>],
    relative: bool,
    level: f64,
    resamples: usize,
    rng: &mut Rng,
) -> Option<Interval> {
    let estimate = change(pooled_median(base)?, pooled_median(current)?, relative)?;
    let mut scratch = Vec::new();
    let mut changes = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let b = resampled_median(base, rng, &mut scratch)?;
        let c = resampled_median(current, rng, &mut scratch)?;
        if let Some(d) = change(b, c, relative) {
            changes.push(d);
        }
    }
    if changes.is_empty() {
        return None;
    }
    changes.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - level.clamp(0.0, 1.0)) / 2.0;
    Some(Interval {
        estimate,
        low: quantile(&changes, tail),
        high: quantile(&changes, 1.0 - tail),
    })
}

/// One hierarchical resample of a side: recordings with replacement, then each drawn recording's
/// windows with replacement; the median of the pooled draw.
fn resampled_median(side: &[Vec<f64>], rng: &mut Rng, scratch: &mut Vec<f64>) -> Option<f64> {
    let nonempty: Vec<&Vec<f64>> = side.iter().filter(|w| !w.is_empty()).collect();
    if nonempty.is_empty() {
        return None;
    }
    scratch.clear();
    for _ in 0..nonempty.len() {
        let windows = nonempty[rng.below(nonempty.len())];
        for _ in 0..windows.len() {
            scratch.push(windows[rng.below(windows.len())]);
        }
    }
    median(scratch)
}

/// The `q` quantile of sorted `values` (linear interpolation between closest ranks).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let weight = position - below as f64;
    sorted[below] * (1.0 - weight) + sorted[above] * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_change_needs_a_positive_base() {
        assert_eq!(change(0.0, 1.0, true), None);
        assert_eq!(change(0.0, 0.0, true), Some(0.0));
        assert_eq!(change(f64::MIN_POSITIVE, 1e300, true), None);
        assert_eq!(change(2.0, 3.0, true), Some(0.5));
        assert_eq!(change(0.0, 0.25, false), Some(0.25));
    }

    #[test]
    fn quantiles_interpolate() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 0.0);
        assert_eq!(quantile(&v, 0.5), 2.0);
        assert_eq!(quantile(&v, 0.125), 0.5);
        assert_eq!(quantile(&v, 1.0), 4.0);
    }

    /// Normal-ish noise from the generator (sum of uniforms), for the coverage tests.
    fn noisy(rng: &mut Rng, center: f64, spread: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|_| {
                let u: f64 = (0..4)
                    .map(|_| rng.next_u64() as f64 / u64::MAX as f64)
                    .sum();
                center + spread * (u - 2.0)
            })
            .collect()
    }

    #[test]
    fn interval_contains_the_true_change_and_excludes_zero_for_a_real_shift() {
        let mut data = Rng::new(7);
        let base = vec![noisy(&mut data, 100.0, 5.0, 60)];
        let current = vec![noisy(&mut data, 110.0, 5.0, 60)];
        let mut rng = Rng::new(1);
        let i = change_interval(&base, &current, true, 0.99, 2000, &mut rng).unwrap();
        assert!(i.low <= i.estimate && i.estimate <= i.high, "{i:?}");
        assert!(i.low > 0.05 && i.high < 0.15, "{i:?}");
    }

    #[test]
    fn a_a_intervals_cover_zero_at_about_the_nominal_rate() {
        // 200 A/A comparisons of two samples from the same distribution: a 90% interval should
        // miss 0 about 10% of the time; accept 3–20%.
        let mut data = Rng::new(11);
        let mut rng = Rng::new(3);
        let trials = 200;
        let mut misses = 0;
        for _ in 0..trials {
            let base = vec![noisy(&mut data, 50.0, 4.0, 41)];
            let current = vec![noisy(&mut data, 50.0, 4.0, 41)];
            let i = change_interval(&base, &current, false, 0.90, 1000, &mut rng).unwrap();
            if i.low > 0.0 || i.high < 0.0 {
                misses += 1;
            }
        }
        assert!((6..=40).contains(&misses), "{misses} of {trials} missed 0");
    }

    #[test]
    fn between_run_shifts_widen_the_interval_of_several_recordings() {
        // Two recordings per side whose levels differ by ±5%: pooled windows alone would give a
        // narrow interval; the hierarchical bootstrap must carry the run-to-run spread.
        let mut data = Rng::new(5);
        let base = vec![
            noisy(&mut data, 95.0, 1.0, 50),
            noisy(&mut data, 105.0, 1.0, 50),
        ];
        let current = vec![
            noisy(&mut data, 95.0, 1.0, 50),
            noisy(&mut data, 105.0, 1.0, 50),
        ];
        let mut rng = Rng::new(9);
        let i = change_interval(&base, &current, true, 0.95, 2000, &mut rng).unwrap();
        assert!(i.high - i.low > 0.05, "interval too narrow: {i:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_interval() {
        let base = vec![vec![1.0, 2.0, 3.0, 4.0, 5.0]];
        let current = vec![vec![2.0, 3.0, 4.0, 5.0, 6.0]];
        let a = change_interval(&base, &current, false, 0.9, 500, &mut Rng::new(42));
        let b = change_interval(&base, &current, false, 0.9, 500, &mut Rng::new(42));
        assert_eq!(a, b);
    }
}
