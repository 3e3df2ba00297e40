//! Graceful drain: after SIGTERM the pod stops being ready, keeps streaming for
//! `DRAIN_DELAY` while load balancers notice, then closes streams in batches spread over
//! `DRAIN_WINDOW`, each told to reconnect after a jittered delay, so the reconnects land on
//! other pods as a gentle ramp, not a spike. Positions are written before the process exits.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use crate::frame;
use crate::hub::{Connection, Hub, closing_frame, duration_millis};

/// Closes `connection` gracefully: what is queued is still written, then a `closing` event
/// with a `retry:` between `retry` and `spread` times it ends the stream.
pub fn close_gracefully(
    connection: &Connection,
    reason: &str,
    message: &str,
    retry: Duration,
    spread: f64,
) {
    let base = duration_millis(retry).max(100);
    let most = (base as f64 * spread.max(1.0)) as u64;
    let jittered = rand::rng().random_range(base..=most);
    let last = closing_frame(reason, message, Duration::from_millis(jittered));
    connection.finish_with(frame::with_retry(jittered, &last));
}

/// Closes every stream over `window` in batches of about 100 ms. The window already spreads
/// the reconnects, so each stream's `retry:` varies by at most half of `retry`: the last
/// stream is back within `window` + 1.5 × `retry` of the drain's start.
pub async fn drain(hub: &Arc<Hub>, window: Duration, retry: Duration) {
    let connections = hub.connections();
    if connections.is_empty() {
        return;
    }
    let batches = (window.as_millis() / 100).max(1) as usize;
    let per_batch = connections.len().div_ceil(batches);
    let pause = window / batches as u32;
    tracing::info!(streams = connections.len(), batches, "draining streams");
    for (i, batch) in connections.chunks(per_batch).enumerate() {
        for connection in batch {
            close_gracefully(
                connection,
                "shutdown",
                "the server is restarting; reconnecting",
                retry,
                1.5,
            );
        }
        if i + 1 < batches {
            tokio::time::sleep(pause).await;
        }
    }
}

/// Waits until no stream is open, or `limit` passes.
pub async fn wait_for_streams(hub: &Hub, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while hub.connection_count() > 0 {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// Closes streams older than `max_age` (±10% jitter per stream).
pub fn close_old(hub: &Hub, max_age: Duration, retry: Duration, now_ms: u64) -> usize {
    let mut closed = 0;
    let max_ms = duration_millis(max_age);
    for connection in hub.connections() {
        let age = now_ms.saturating_sub(connection.connected_at());
        let jitter = (connection.id().as_u128() % 21) as u64; // 0..=20 → −10%..+10%
        let limit = max_ms * (90 + jitter) / 100;
        if age >= limit && !connection.is_closed() {
            close_gracefully(
                &connection,
                "max_age",
                "the stream reached its maximum age; reconnecting",
                retry,
                3.0,
            );
            closed += 1;
        }
    }
    closed
}
