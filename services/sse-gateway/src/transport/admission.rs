//! Sockets that are not streams yet. Each must complete its first request head within
//! `HEADER_READ_TIMEOUT` of being accepted, and at most `MAX_PENDING_CONNECTIONS` may be
//! waiting for theirs at once: beyond it a new socket is closed at once. After the first
//! request, hyper's own header timeout (the same duration) bounds every later request head
//! and every idle wait of a keep-alive connection. What is closed is counted by reason
//! (`http_sockets_closed_total`), so a flood of silent or trickling sockets costs a bounded
//! number of descriptors for a bounded time.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::metrics as m;

/// Why a socket was closed before it carried a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// The request head did not arrive complete in time (or a keep-alive connection stayed
    /// idle that long).
    HeaderTimeout,
    /// Too many sockets were already waiting for their first request head.
    PendingLimit,
}

impl Cut {
    pub const ALL: [Cut; 2] = [Cut::HeaderTimeout, Cut::PendingLimit];

    pub fn as_str(self) -> &'static str {
        match self {
            Cut::HeaderTimeout => "header_timeout",
            Cut::PendingLimit => "pending_limit",
        }
    }

    pub fn count(self) {
        metrics::counter!(m::SOCKETS_CLOSED, "reason" => self.as_str()).increment(1);
    }
}

/// The limits of sockets that are not streams yet.
#[derive(Clone, Copy, Debug)]
pub struct SocketLimits {
    pub header_read_timeout: Duration,
    pub max_pending: usize,
}

/// Admits accepted sockets (shared by the accept loop).
#[derive(Clone)]
pub struct Admission {
    slots: Arc<Semaphore>,
    limits: SocketLimits,
}

/// A socket waiting for its first request head: its place among the pending ones, and the
/// moment it must have sent it by.
pub struct Pending {
    _slot: OwnedSemaphorePermit,
    pub deadline: Instant,
}

impl Admission {
    pub fn new(limits: SocketLimits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.max_pending.max(1))),
            limits,
        }
    }

    pub fn header_read_timeout(&self) -> Duration {
        self.limits.header_read_timeout
    }

    /// A place for a socket accepted now; `None` (counted) when too many are waiting.
    pub fn admit(&self) -> Option<Pending> {
        match self.slots.clone().try_acquire_owned() {
            Ok(slot) => Some(Pending {
                _slot: slot,
                deadline: Instant::now() + self.limits.header_read_timeout,
            }),
            Err(_) => {
                Cut::PendingLimit.count();
                None
            }
        }
    }

    /// Sockets waiting for their first request head now.
    pub fn pending(&self) -> usize {
        self.limits
            .max_pending
            .max(1)
            .saturating_sub(self.slots.available_permits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn places_are_limited_and_given_back() {
        let admission = Admission::new(SocketLimits {
            header_read_timeout: Duration::from_secs(1),
            max_pending: 2,
        });
        let first = admission.admit().expect("a place");
        let _second = admission.admit().expect("a place");
        assert!(admission.admit().is_none(), "full");
        assert_eq!(admission.pending(), 2);
        assert!(first.deadline > Instant::now());
        drop(first);
        assert!(admission.admit().is_some(), "a place was given back");
    }
}
