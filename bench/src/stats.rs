//! Statistics of `bench`: a log-linear latency histogram (about 1.6% resolution, mergeable
//! across rounds and sent from a worker as text), medians and throughput helpers.

use std::collections::BTreeMap;

/// Sub-buckets per power of two above [`LINEAR`].
const SUB_BITS: u32 = 6;
/// Values below this are counted exactly.
const LINEAR: u64 = 1 << (SUB_BITS + 1);

/// A histogram of durations in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: BTreeMap<u32, u64>,
    total: u64,
}

/// The bucket of a value.
fn bucket(v: u64) -> u32 {
    if v < LINEAR {
        return v as u32;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS + 1
    let sub = (v >> (e - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    LINEAR as u32 + (e - SUB_BITS - 1) * (1 << SUB_BITS) + sub as u32
}

/// The lowest and one-past-highest value of a bucket.
fn bounds(b: u32) -> (u64, u64) {
    if (b as u64) < LINEAR {
        return (b as u64, b as u64 + 1);
    }
    let i = b - LINEAR as u32;
    let e = i / (1 << SUB_BITS) + SUB_BITS + 1;
    let sub = (i % (1 << SUB_BITS)) as u64;
    let shift = e - SUB_BITS;
    let lo = ((1u64 << SUB_BITS) + sub) << shift;
    (lo, lo + (1u64 << shift))
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram::default()
    }

    /// Counts one value.
    pub fn record(&mut self, v: u64) {
        *self.counts.entry(bucket(v)).or_insert(0) += 1;
        self.total += 1;
    }

    /// How many values were counted.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (b, c) in &other.counts {
            *self.counts.entry(*b).or_insert(0) += c;
        }
        self.total += other.total;
    }

    /// The value at quantile `q` (0..=1): the middle of the bucket holding it; `None` when
    /// empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, c) in &self.counts {
            seen += c;
            if seen >= rank {
                let (lo, hi) = bounds(*b);
                return Some(lo + (hi - lo - 1) / 2);
            }
        }
        None
    }

    /// Text form: `bucket:count` pairs separated by `,` (`-` when empty).
    pub fn encode(&self) -> String {
        if self.counts.is_empty() {
            return "-".to_string();
        }
        self.counts
            .iter()
            .map(|(b, c)| format!("{b}:{c}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses [`Histogram::encode`]'s text.
    pub fn decode(text: &str) -> Option<Histogram> {
        let mut h = Histogram::new();
        if text == "-" {
            return Some(h);
        }
        for pair in text.split(',') {
            let (b, c) = pair.split_once(':')?;
            let (b, c): (u32, u64) = (b.parse().ok()?, c.parse().ok()?);
            *h.counts.entry(b).or_insert(0) += c;
            h.total = h.total.checked_add(c)?;
        }
        Some(h)
    }
}

/// The median of some values (the mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_contain_their_values() {
        let mut prev_hi = 0;
        for b in 0..2000u32 {
            let (lo, hi) = bounds(b);
            assert_eq!(
                lo,
                prev_hi,
                "bucket {b} starts where {} ended",
                b.wrapping_sub(1)
            );
            assert!(hi > lo);
            assert_eq!(bucket(lo), b);
            assert_eq!(bucket(hi - 1), b);
            prev_hi = hi;
        }
    }

    #[test]
    fn resolution_is_under_two_percent() {
        for v in [200u64, 1_000, 7_777, 29_000, 1_000_000, 123_456_789] {
            let (lo, hi) = bounds(bucket(v));
            assert!((hi - lo) as f64 / lo as f64 <= 1.0 / 64.0 + 1e-9, "{v}");
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut h = Histogram::new();
        for v in 1..=100u64 {
            h.record(v * 1000);
        }
        let med = h.quantile(0.5).unwrap();
        assert!((49_000..=51_000).contains(&med), "{med}");
        let p99 = h.quantile(0.99).unwrap();
        assert!((98_000..=100_500).contains(&p99), "{p99}");
        assert_eq!(Histogram::new().quantile(0.5), None);
    }

    #[test]
    fn merge_and_text_round_trip() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        for v in [5u64, 900, 12_000, 12_001] {
            a.record(v);
            b.record(v * 3);
        }
        a.merge(&b);
        assert_eq!(a.count(), 8);
        assert_eq!(Histogram::decode(&a.encode()).unwrap(), a);
        assert_eq!(Histogram::decode("-").unwrap().count(), 0);
        assert!(Histogram::decode("1:x").is_none());
        assert!(Histogram::decode("1").is_none());
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
