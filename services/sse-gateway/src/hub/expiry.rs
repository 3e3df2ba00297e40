//! A stream ends when the token it was opened with expires (as Mercure closes at `exp`): a
//! `closing` event with reason `token_expired`, after what is already queued, so the client
//! reconnects with a fresh token (cookie or query) and resumes without loss.

use std::sync::Arc;
use std::time::Duration;

use progress_contract::time::now_millis;

use super::{Connection, Hub, closing_frame};

impl Hub {
    /// Ends `connection` at `expires_at` (milliseconds since the epoch) unless it has ended by
    /// then. The timer holds the stream weakly: a stream that ends earlier is freed at once.
    pub fn end_at_expiry(&self, connection: &Arc<Connection>, expires_at: u64) {
        let connection = Arc::downgrade(connection);
        let retry = self.settings.retry;
        let wait = Duration::from_millis(expires_at.saturating_sub(now_millis()));
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(connection) = connection.upgrade() {
                let last = closing_frame(
                    "token_expired",
                    "the token this stream was opened with has expired; reconnect with a fresh one to continue",
                    retry,
                );
                if connection.finish_with(last) {
                    tracing::debug!(connection.id = %connection.id(), "stream closed: its token expired");
                }
            }
        });
    }
}
