//! A latency histogram in fixed memory: record millions of durations, then
//! read percentiles (p50, p99...) and the maximum.
//!
//! Keeping every sample and sorting them would cost memory in proportion
//! to the run — 8 bytes a request, 80 MB for a ten-second run at a million
//! requests a second. Instead, each duration only adds one to the count of
//! the bucket it falls in, and a percentile is read by walking the buckets.
//!
//! The buckets are **log-linear**, as in Gil Tene's HdrHistogram: durations
//! below 2^[`SUB_BUCKET_BITS`] nanoseconds each have a bucket of their own;
//! above, every power of two `[2^k, 2^(k+1))` is cut into 2^`SUB_BUCKET_BITS`
//! equal buckets. So a bucket is never wider than 1/64 of the values in it:
//! every figure read back is within 1.6 % of a real sample, from
//! nanoseconds to centuries, in 30 KiB.
//!
//! ```text
//!   value (ns)          bucket width
//!   0 .. 64             1            (exact)
//!   64 .. 128           1
//!   128 .. 256          2
//!   ...
//!   2^20 .. 2^21 (~1 ms) 2^14 = 16 µs
//! ```
//!
//! Left out on purpose: coordinated-omission correction (HdrHistogram's
//! "expected interval"): the load generator is closed-loop, like `wrk`, and
//! says so in its report.

use std::time::Duration;

/// Each power of two is split into 2^`SUB_BUCKET_BITS` buckets (64): the
/// relative error of a figure read back is at most 1/64.
pub const SUB_BUCKET_BITS: u32 = 6;

/// Buckets per power of two.
const SUB_BUCKETS: usize = 1 << SUB_BUCKET_BITS;

/// Every `u64` value has a bucket: one group of exact values below
/// `SUB_BUCKETS`, then one group per power of two from there to 2^64.
const BUCKETS: usize = (64 - SUB_BUCKET_BITS as usize + 1) * SUB_BUCKETS;

/// Counts of durations by bucket, with the exact minimum and maximum.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Box<[u64]>,
    count: u64,
    /// Sum of all values in nanoseconds, for the mean.
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    /// An empty histogram (30 KiB of counters).
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Adds one duration.
    pub fn record(&mut self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket_of(nanos)] += 1;
        self.count += 1;
        self.sum += u128::from(nanos);
        self.min = self.min.min(nanos);
        self.max = self.max.max(nanos);
    }

    /// Adds every duration of `other` (each load generator thread keeps
    /// its own histogram; they are merged at the end).
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// How many durations were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest duration recorded (exact); zero when empty.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    /// The smallest duration recorded (exact); zero when empty.
    pub fn min(&self) -> Duration {
        Duration::from_nanos(if self.count == 0 { 0 } else { self.min })
    }

    /// The mean (exact); zero when empty.
    pub fn mean(&self) -> Duration {
        match self.count {
            0 => Duration::ZERO,
            count => Duration::from_nanos(u64::try_from(self.sum / u128::from(count)).unwrap_or(0)),
        }
    }

    /// The duration below or at which `percent` % of the recorded ones
    /// lie (`percentile(99.0)` is the p99): the top of the bucket holding
    /// that rank, so never less than the true figure and at most 1.6 %
    /// above it, and never above the maximum. Zero when empty.
    pub fn percentile(&self, percent: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        // The rank of the sample wanted, counting from 1 (nearest-rank method).
        let wanted = ((percent / 100.0) * self.count as f64).ceil() as u64;
        let wanted = wanted.clamp(1, self.count);
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                let top = bucket_top(bucket);
                return Duration::from_nanos(top.min(self.max).max(self.min));
            }
        }
        self.max()
    }
}

/// The bucket a value (in nanoseconds) is counted in.
fn bucket_of(value: u64) -> usize {
    if value < SUB_BUCKETS as u64 {
        return value as usize;
    }
    // The value's highest bit says which power of two it lies in; the
    // `SUB_BUCKET_BITS` bits under it say where within that power.
    let highest_bit = 63 - value.leading_zeros();
    let shift = highest_bit - SUB_BUCKET_BITS;
    let group = (shift + 1) as usize;
    let within = ((value >> shift) as usize) - SUB_BUCKETS;
    group * SUB_BUCKETS + within
}

/// The largest value counted in `bucket`.
fn bucket_top(bucket: usize) -> u64 {
    let (group, within) = (bucket / SUB_BUCKETS, (bucket % SUB_BUCKETS) as u64);
    if group == 0 {
        return within;
    }
    let shift = group as u32 - 1;
    let bottom = (SUB_BUCKETS as u64 + within) << shift;
    bottom + ((1u64 << shift) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut previous = 0;
        // Increasing values: every small one, then a few large ones.
        for value in (0..5000u64).chain([1 << 20, (1 << 20) + 12345, u64::MAX / 3, u64::MAX]) {
            let bucket = bucket_of(value);
            assert!(bucket < BUCKETS, "value {value} got bucket {bucket}");
            assert!(
                bucket_top(bucket) >= value,
                "value {value} above its bucket's top"
            );
            if bucket > 0 {
                assert!(
                    bucket_top(bucket - 1) < value,
                    "value {value} fits a lower bucket"
                );
            }
            assert!(bucket >= previous, "buckets grow with values ({value})");
            previous = bucket;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn a_bucket_is_never_wider_than_a_sixty_fourth_of_its_values() {
        for bucket in SUB_BUCKETS..BUCKETS {
            let bottom = bucket_top(bucket - 1) + 1;
            let width = bucket_top(bucket) - bottom + 1;
            assert!(width <= bottom / SUB_BUCKETS as u64, "bucket {bucket}");
        }
    }

    #[test]
    fn percentiles_of_one_to_ten_thousand_microseconds() {
        let mut histogram = Histogram::new();
        // Shuffled by a fixed stride, so the order of recording is not sorted.
        for step in 0..10_000u64 {
            let micros = (step * 7919) % 10_000 + 1;
            histogram.record(Duration::from_micros(micros));
        }
        assert_eq!(histogram.count(), 10_000);
        assert_eq!(histogram.min(), Duration::from_micros(1));
        assert_eq!(histogram.max(), Duration::from_micros(10_000));
        assert_eq!(histogram.mean(), Duration::from_nanos(5_000_500));
        for (percent, exact_micros) in
            [(50.0, 5_000), (90.0, 9_000), (99.0, 9_900), (100.0, 10_000)]
        {
            let got = histogram.percentile(percent).as_nanos() as f64;
            let exact = (exact_micros * 1000) as f64;
            assert!(
                got >= exact && got <= exact * (1.0 + 1.0 / 64.0),
                "p{percent}: got {got} ns, exact {exact} ns"
            );
        }
    }

    #[test]
    fn merging_adds_counts_and_an_empty_histogram_reads_zero() {
        let empty = Histogram::new();
        assert_eq!(empty.percentile(99.0), Duration::ZERO);
        assert_eq!(empty.min(), Duration::ZERO);
        assert_eq!(empty.mean(), Duration::ZERO);
        let mut left = Histogram::new();
        let mut right = Histogram::new();
        left.record(Duration::from_millis(1));
        right.record(Duration::from_millis(3));
        right.record(Duration::from_millis(5));
        left.merge(&right);
        left.merge(&empty);
        assert_eq!(left.count(), 3);
        assert_eq!(left.min(), Duration::from_millis(1));
        assert_eq!(left.max(), Duration::from_millis(5));
        assert_eq!(left.mean(), Duration::from_millis(3));
        let median = left.percentile(50.0);
        assert!(
            median >= Duration::from_millis(3) && median < Duration::from_micros(3050),
            "median of 1, 3, 5 ms: got {median:?}"
        );
    }
}
