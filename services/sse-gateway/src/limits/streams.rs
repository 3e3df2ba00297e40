//! Open streams per pod and per subject. A stream holds a [`StreamPermit`] for its whole
//! life; dropping the permit (the response body ends) gives the place back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;

use crate::error::ApiError;

#[derive(Default)]
struct Counts {
    total: AtomicUsize,
    by_subject: Mutex<HashMap<String, usize>>,
}

/// Counts open streams against the limits.
pub struct StreamLimits {
    max_total: usize,
    max_per_subject: usize,
    counts: Arc<Counts>,
}

/// One open stream's place; released on drop.
pub struct StreamPermit {
    counts: Arc<Counts>,
    subject: Option<String>,
}

impl StreamLimits {
    /// `0` means no limit.
    pub fn new(max_total: usize, max_per_subject: usize) -> Self {
        Self {
            max_total,
            max_per_subject,
            counts: Arc::default(),
        }
    }

    /// A place for one more stream of `subject` (`None`: anonymous, only the pod limit).
    pub fn acquire(&self, subject: Option<&str>) -> Result<StreamPermit, ApiError> {
        let total = self.counts.total.fetch_add(1, Ordering::SeqCst) + 1;
        // From here on the permit gives the place back, whatever happens.
        let mut permit = StreamPermit {
            counts: self.counts.clone(),
            subject: None,
        };
        if self.max_total > 0 && total > self.max_total {
            let mut error = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_connections",
                "this gateway holds as many streams as it may; retry, another pod may take it",
            );
            error.retry_after_secs = Some(1);
            super::count_rejection("too_many_connections");
            return Err(error);
        }
        if let Some(subject) = subject {
            let mut by_subject = self
                .counts
                .by_subject
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let count = by_subject.entry(subject.to_owned()).or_default();
            if self.max_per_subject > 0 && *count >= self.max_per_subject {
                super::count_rejection("too_many_streams");
                return Err(ApiError::too_many(
                    "too_many_streams",
                    format!(
                        "this subject already holds {} streams on this gateway; close one first",
                        self.max_per_subject
                    ),
                    5,
                ));
            }
            *count += 1;
            permit.subject = Some(subject.to_owned());
        }
        Ok(permit)
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.counts.total.load(Ordering::SeqCst)
    }

    /// Streams `subject` holds now.
    pub fn open_for(&self, subject: &str) -> usize {
        self.counts
            .by_subject
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(subject)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        self.counts.total.fetch_sub(1, Ordering::SeqCst);
        if let Some(subject) = self.subject.take() {
            let mut by_subject = self
                .counts
                .by_subject
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(count) = by_subject.get_mut(&subject) {
                *count -= 1;
                if *count == 0 {
                    by_subject.remove(&subject);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_and_subject_limits_with_places_given_back() {
        let limits = StreamLimits::new(3, 2);
        let a1 = limits.acquire(Some("a")).unwrap();
        let _a2 = limits.acquire(Some("a")).unwrap();
        let refused = limits.acquire(Some("a")).err().unwrap();
        assert_eq!(
            (refused.status.as_u16(), refused.code),
            (429, "too_many_streams")
        );
        assert_eq!(limits.open(), 2, "a refused stream holds no place");
        let _b = limits.acquire(Some("b")).unwrap();
        let full = limits.acquire(None).err().unwrap();
        assert_eq!(
            (full.status.as_u16(), full.code),
            (503, "too_many_connections")
        );
        assert_eq!(full.retry_after_secs, Some(1));
        drop(a1);
        assert_eq!(limits.open_for("a"), 1);
        let _anonymous = limits.acquire(None).unwrap();
        assert_eq!(limits.open(), 3);
    }

    #[test]
    fn zero_means_unlimited() {
        let limits = StreamLimits::new(0, 0);
        let permits: Vec<_> = (0..100)
            .map(|_| limits.acquire(Some("a")).unwrap())
            .collect();
        assert_eq!(limits.open_for("a"), 100);
        drop(permits);
        assert_eq!((limits.open(), limits.open_for("a")), (0, 0));
    }
}
