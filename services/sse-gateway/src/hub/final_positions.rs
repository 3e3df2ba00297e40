//! The final positions of closing streams, written in batches. A reconnect storm closes
//! thousands of streams within milliseconds; each used to write its session with a command
//! of its own. Positions queue here instead, and one task writes what has gathered: on one
//! Redis node up to [`BATCH`] sessions per command, elsewhere (a Cluster spreads sessions
//! over slots) each session its own command, all at once. Drain waits for that task like for
//! any other session write.

use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;

use super::Hub;
use crate::fanout::connection::Position;

/// Most sessions written by one command.
pub const BATCH: usize = 256;

/// Final positions waiting to be written.
#[derive(Default)]
pub struct FinalPositions(Mutex<Vec<(Uuid, Position)>>);

impl FinalPositions {
    fn lock(&self) -> MutexGuard<'_, Vec<(Uuid, Position)>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a position; true when nothing was waiting (no writer is about to take it).
    fn push(&self, id: Uuid, position: Position) -> bool {
        let mut waiting = self.lock();
        waiting.push((id, position));
        waiting.len() == 1
    }

    /// Takes up to [`BATCH`] positions, oldest first.
    fn take(&self) -> Vec<(Uuid, Position)> {
        let mut waiting = self.lock();
        let n = waiting.len().min(BATCH);
        waiting.drain(..n).collect()
    }
}

impl Hub {
    /// Writes `position` as the final one of stream `id`, with those of the streams closing
    /// at the same moment.
    pub(super) fn write_final_position(self: Arc<Self>, id: Uuid, position: Position) {
        if !self.final_positions.push(id, position) {
            return;
        }
        let hub = self.clone();
        self.flushes.spawn(async move {
            // Streams closing at the same moment join before the first write.
            tokio::task::yield_now().await;
            hub.write_final_positions().await;
        });
    }

    /// Writes the queued final positions until none is left.
    async fn write_final_positions(&self) {
        loop {
            let batch = self.final_positions.take();
            if batch.is_empty() {
                return;
            }
            if self.settings.one_node {
                if let Err(error) = self.sessions.flush_final(&batch).await {
                    tracing::warn!(%error, streams = batch.len(), "writing final positions failed");
                }
                continue;
            }
            let writes = batch
                .iter()
                .map(|(id, position)| self.sessions.flush(id, position, true));
            for ((id, _), written) in batch.iter().zip(futures::future::join_all(writes).await) {
                if let Err(error) = written {
                    tracing::warn!(%error, connection.id = %id, "writing the final position failed");
                }
            }
        }
    }
}
