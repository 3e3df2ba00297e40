//! A latency histogram with bounded memory: exact below 1,024 µs, then 512 buckets per
//! power of two (under 0.2 % error), up to about 2^36 µs (19 hours; larger values are
//! clamped).

const LINEAR: u64 = 1024;
const SUB_BITS: u32 = 9;
const SUB: u64 = 1 << SUB_BITS;
const MAX_EXP: u32 = 36;
const BUCKETS: usize = LINEAR as usize + (MAX_EXP as usize - 10 + 1) * SUB as usize;

#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    max: u64,
    sum: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            count: 0,
            max: 0,
            sum: 0,
        }
    }
}

fn index(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let exp = (63 - value.leading_zeros()).min(MAX_EXP);
    let value = value.min((1 << (MAX_EXP + 1)) - 1);
    let shift = exp - SUB_BITS;
    let mantissa = value >> shift;
    LINEAR as usize + (exp as usize - 10) * SUB as usize + (mantissa - SUB) as usize
}

/// The smallest value of a bucket.
fn lower_bound(index: usize) -> u64 {
    if index < LINEAR as usize {
        return index as u64;
    }
    let rest = index - LINEAR as usize;
    let exp = (rest / SUB as usize) as u32 + 10;
    let mantissa = (rest % SUB as usize) as u64 + SUB;
    mantissa << (exp - SUB_BITS)
}

impl Histogram {
    pub fn record(&mut self, value: u64) {
        self.counts[index(value)] += 1;
        self.count += 1;
        self.max = self.max.max(value);
        self.sum += u128::from(value);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The value at quantile `q` (0–1): the lower bound of the bucket holding the
    /// ⌈q·count⌉-th value (the maximum for the last one). 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        if rank >= self.count {
            return self.max;
        }
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return lower_bound(index).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_trip_within_a_fifth_of_a_percent() {
        for value in [
            0,
            1,
            1023,
            1024,
            1025,
            4095,
            4096,
            123_456,
            9_999_999,
            1 << 36,
        ] {
            let low = lower_bound(index(value));
            assert!(low <= value, "{value}: {low}");
            assert!(
                (value - low) as f64 <= value as f64 * 0.002,
                "{value}: {low}"
            );
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1, "clamped into the last bucket");
    }

    #[test]
    fn percentiles_of_a_known_set() {
        let mut histogram = Histogram::default();
        for value in 1..=1000 {
            histogram.record(value);
        }
        assert_eq!(histogram.quantile(0.5), 500);
        assert_eq!(histogram.quantile(0.99), 990);
        assert_eq!(histogram.quantile(1.0), 1000);
        assert_eq!(histogram.max(), 1000);
        let mut other = Histogram::default();
        other.record(50_000);
        histogram.merge(&other);
        assert_eq!(histogram.count(), 1001);
        assert_eq!(histogram.quantile(1.0), 50_000);
        assert!((histogram.mean() - 549.95).abs() < 0.01);
        assert_eq!(Histogram::default().quantile(0.99), 0);
    }
}
