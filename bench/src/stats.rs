//! Medians of repeated timings: the only statistic a goal is judged on, because this machine
//! is shared and a mean would carry every stall of a neighbour's build.

use std::time::Duration;

use serde::Serialize;

/// Milliseconds, as a float, for tables and JSON.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The middle of the samples (the mean of the two middles for an even count); NaN when empty.
pub fn median(samples: &[f64]) -> f64 {
    quantile(samples, 0.5)
}

/// Linear-interpolated quantile `q` in [0, 1]; NaN when empty.
pub fn quantile(samples: &[f64], q: f64) -> f64 {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// A compact description of a set of timings (milliseconds) for the summary's details.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub n: usize,
}

impl Spread {
    pub fn of(samples: &[f64]) -> Spread {
        Spread {
            median: round(median(samples), 3),
            p10: round(quantile(samples, 0.1), 3),
            p90: round(quantile(samples, 0.9), 3),
            n: samples.len(),
        }
    }
}

/// Rounds for display and JSON: figures this noisy do not deserve more digits.
pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn quantiles_interpolate_and_ignore_nan() {
        let xs = [0.0, 10.0, f64::NAN, 20.0];
        assert_eq!(quantile(&xs, 0.0), 0.0);
        assert_eq!(quantile(&xs, 1.0), 20.0);
        assert_eq!(quantile(&xs, 0.25), 5.0);
    }
}
