//! Whether two samples differ beyond noise: the Mann-Whitney U test for values (durations,
//! costs: no assumption of normality, robust to the long tails latencies have) and
//! Fisher's exact test for rates (failures out of executions, exact for small counts).
//! Both two-sided.

/// The two-sided p-value of the Mann-Whitney U test that `a` and `b` come from one
/// distribution: the normal approximation with the tie correction and a continuity
/// correction (good from about 8 values a side). `None` when a side is empty or every
/// value is the same.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<f64> {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    // Ranks of the pooled values, ties given their mean rank.
    let mut pooled: Vec<(f64, bool)> = a
        .iter()
        .map(|x| (*x, true))
        .chain(b.iter().map(|x| (*x, false)))
        .collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = pooled.len();
    let (mut rank_sum_a, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let count = (j - i + 1) as f64;
        ties += count.powi(3) - count;
        rank_sum_a += rank * pooled[i..=j].iter().filter(|(_, in_a)| *in_a).count() as f64;
        i = j + 1;
    }
    let u = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let total = n1 + n2;
    let variance = n1 * n2 / 12.0 * ((total + 1.0) - ties / (total * (total - 1.0)));
    if variance <= 0.0 {
        return None;
    }
    let distance = ((u - n1 * n2 / 2.0).abs() - 0.5).max(0.0);
    Some((2.0 * normal_tail(distance / variance.sqrt())).min(1.0))
}

/// The two-sided p-value of Fisher's exact test on the 2x2 table: `a_hits` of `a_n`
/// against `b_hits` of `b_n` (the tables at most as likely as the one seen, summed).
/// `None` when a side is empty.
pub fn fisher_exact(a_hits: u64, a_n: u64, b_hits: u64, b_n: u64) -> Option<f64> {
    if a_n == 0 || b_n == 0 || a_hits > a_n || b_hits > b_n {
        return None;
    }
    let hits = a_hits + b_hits;
    let n = a_n + b_n;
    // P(a's hits = k) under the hypergeometric distribution, as a log.
    let log_p = |k: u64| ln_choose(a_n, k) + ln_choose(b_n, hits - k) - ln_choose(n, hits);
    let seen = log_p(a_hits);
    let low = hits.saturating_sub(b_n);
    let high = hits.min(a_n);
    let p: f64 = (low..=high)
        .map(log_p)
        .filter(|lp| *lp <= seen + 1e-7)
        .map(f64::exp)
        .sum();
    Some(p.min(1.0))
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

/// `ln(n!)`: exact sums to 256, Stirling's series past it.
fn ln_factorial(n: u64) -> f64 {
    if n < 256 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x.powi(3))
}

/// `P(Z > z)` for a standard normal `Z`.
fn normal_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    // Numerical Recipes' erfcc: Chebyshev fitting, fractional error below 1.2e-7.
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let value = t * poly.exp();
    if x >= 0.0 { value } else { 2.0 - value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_tail_matches_its_table() {
        // Standard table values of P(Z > z).
        for (z, p) in [
            (0.0, 0.5),
            (1.0, 0.158_655_25),
            (1.96, 0.024_997_9),
            (3.0, 0.001_349_9),
        ] {
            assert!((normal_tail(z) - p).abs() < 1e-6, "{z}: {}", normal_tail(z));
        }
    }

    #[test]
    fn mann_whitney_matches_a_worked_example() {
        // No ties: the first sample's ranks are 1, 2, 3, 4, 6, so U = 16 - 15 = 1; with
        // n1 = n2 = 5 the mean is 12.5 and the variance 25 * 11 / 12;
        // z = (|1 - 12.5| - 0.5) / 4.7871 = 2.2978, p = 2 * 0.010785.
        let a = [1.0, 2.0, 3.0, 6.0, 4.0];
        let b = [5.0, 7.0, 8.0, 9.0, 10.0];
        let p = mann_whitney(&a, &b).unwrap();
        assert!((p - 0.021_57).abs() < 1e-4, "{p}");
        assert_eq!(mann_whitney(&a, &b), mann_whitney(&b, &a));
        assert_eq!(mann_whitney(&[1.0; 4], &[1.0; 4]), None, "no variation");
    }

    #[test]
    fn fisher_matches_the_tea_tasting_table() {
        // Fisher's lady tasting tea: 3 of 4 against 1 of 4, two-sided p = 17/35.
        let p = fisher_exact(3, 4, 1, 4).unwrap();
        assert!((p - 17.0 / 35.0).abs() < 1e-9, "{p}");
        // All against none of 10 each: 2 / C(20, 10).
        let p = fisher_exact(10, 10, 0, 10).unwrap();
        assert!((p - 2.0 / 184_756.0).abs() < 1e-12, "{p}");
        assert_eq!(fisher_exact(0, 0, 1, 3), None);
    }
}
