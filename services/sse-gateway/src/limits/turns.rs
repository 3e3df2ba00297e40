//! Streams being opened or resumed at once on a pod: at most [`OPENING_AT_ONCE`] are reading
//! and writing Redis for their open at a time; the others wait their turn, first come first
//! served.
//!
//! A reconnect storm (a pod drained, a network blip) brings thousands of requests at once.
//! Each in flight holds its handler's state and its Redis commands: all of them at once cost
//! memory that has to be faulted in and zeroed, and every one of them finishes late, since
//! they share the CPU evenly. A few hundred at a time keep Redis busy; the first to arrive are
//! served first, and the rest wait holding little more than their socket. The wait is bounded:
//! a turn ends when its response starts, and every request has `REQUEST_TIMEOUT`.
//! `sse_stream_opens_waiting` shows the queue.

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::metrics as m;

/// Streams opened or resumed at once on a pod (measured in docs/benchmarks.md: fewer does
/// not lower the cost further, and the open path waits once more than the load generator's
/// 256 connects at a time).
pub const OPENING_AT_ONCE: usize = 512;

/// Turns at opening a stream.
pub struct Turns {
    turns: Semaphore,
}

/// A turn, given back when dropped.
pub struct Turn<'a> {
    _permit: Option<SemaphorePermit<'a>>,
}

impl Turns {
    pub fn new(at_once: usize) -> Self {
        Self {
            turns: Semaphore::new(at_once.max(1)),
        }
    }

    /// Waits for a turn (in arrival order).
    pub async fn take(&self) -> Turn<'_> {
        if let Ok(permit) = self.turns.try_acquire() {
            return Turn {
                _permit: Some(permit),
            };
        }
        let waiting = Waiting::start();
        // The semaphore is never closed: a turn always comes.
        let permit = self.turns.acquire().await.ok();
        drop(waiting);
        Turn { _permit: permit }
    }
}

/// Counted in `sse_stream_opens_waiting` while it lives (also when the request is dropped
/// while waiting).
struct Waiting;

impl Waiting {
    fn start() -> Self {
        metrics::gauge!(m::STREAM_OPENS_WAITING).increment(1.0);
        Self
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        metrics::gauge!(m::STREAM_OPENS_WAITING).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn turns_are_limited_and_given_in_arrival_order() {
        let turns = Arc::new(Turns::new(2));
        let first = turns.take().await;
        let second = turns.take().await;
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for n in 0..4 {
            let (turns, order) = (turns.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _turn = turns.take().await;
                order.lock().unwrap().push(n);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }));
            // Each waits before the next arrives.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(order.lock().unwrap().is_empty(), "nobody gets a third turn");
        drop(first);
        drop(second);
        for task in waiting {
            task.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            [0, 1, 2, 3],
            "first come, first served"
        );
    }
}
