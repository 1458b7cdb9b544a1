//! The median, as every rule that compares subtasks or windows takes it (the skew of a task's
//! subtasks, the period of a timeline, the change between two sets of windows).

/// The median of `values` (the mean of the two middle values for an even count); reorders them.
/// `None` when empty.
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let by = |a: &f64, b: &f64| a.total_cmp(b);
    let (_, &mut upper, _) = values.select_nth_unstable_by(n / 2, by);
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = values[..n / 2]
        .iter()
        .copied()
        .max_by(by)
        .expect("n is even and positive, so the lower half is not empty");
    Some((lower + upper) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }
}
