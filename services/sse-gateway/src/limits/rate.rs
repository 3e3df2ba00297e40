//! A token bucket per subject: `burst` requests at once, refilled at `per_second`. Buckets
//! that have refilled completely are forgotten, so memory follows the active subjects only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Rate limits POST requests per subject.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Buckets kept before full ones are swept out.
const SWEEP_AT: usize = 4096;

impl RateLimiter {
    /// `per_second == 0` turns the limit off.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.per_second > 0.0
    }

    /// Takes one token for `subject`, or says how long until one is there.
    pub fn check(&self, subject: &str, now: Instant) -> Result<(), Duration> {
        if !self.is_enabled() {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= SWEEP_AT {
            let full_after = Duration::from_secs_f64(self.burst / self.per_second);
            buckets.retain(|_, b| now.saturating_duration_since(b.at) < full_after);
        }
        let bucket = buckets.entry(subject.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(2.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("a", start).is_ok());
        }
        let wait = limiter.check("a", start).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
        assert!(
            limiter.check("b", start).is_ok(),
            "subjects are independent"
        );
        let later = start + Duration::from_millis(500);
        assert!(limiter.check("a", later).is_ok());
        assert!(limiter.check("a", later).is_err());
        let much_later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.check("a", much_later).is_ok());
        }
        assert!(
            limiter.check("a", much_later).is_err(),
            "never more than the burst"
        );
    }

    #[test]
    fn zero_rate_is_off() {
        let limiter = RateLimiter::new(0.0, 1);
        let now = Instant::now();
        assert!((0..1000).all(|_| limiter.check("a", now).is_ok()));
    }

    #[test]
    fn full_buckets_are_forgotten() {
        let limiter = RateLimiter::new(100.0, 1);
        let start = Instant::now();
        for n in 0..SWEEP_AT {
            let _ = limiter.check(&format!("s{n}"), start);
        }
        let _ = limiter.check("late", start + Duration::from_secs(1));
        assert_eq!(limiter.buckets.lock().unwrap().len(), 1);
    }
}
