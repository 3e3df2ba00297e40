//! Which job runs next: organisations take turns (see `lua/lib.lua` and docs/decisions.md),
//! and the whole queue can be paused.

use fred::prelude::{HashesInterface, SortedSetsInterface};
use fred::types::Value;

use crate::error::QueueError;
use crate::queue::Queue;
use crate::scripts;

impl Queue {
    /// No job starts until [`Queue::resume`]: nothing more is fed to the stream, and an entry
    /// already fed that a worker reads is put back. Running jobs finish.
    pub async fn pause(&self) -> Result<(), QueueError> {
        let _: () = self
            .client()
            .hset(self.keys().meta(), ("paused", "1"))
            .await?;
        Ok(())
    }

    /// Jobs start again.
    pub async fn resume(&self) -> Result<(), QueueError> {
        let _: Value = scripts::RESUME
            .evalsha_with_reload(
                self.client(),
                vec![self.keys().meta()],
                vec![self.keys().prefix()],
            )
            .await?;
        Ok(())
    }

    pub async fn is_paused(&self) -> Result<bool, QueueError> {
        let paused: Option<String> = self.client().hget(self.keys().meta(), "paused").await?;
        Ok(paused.as_deref() == Some("1"))
    }

    /// Organisations with the most waiting jobs, at most `top`, largest first. Jobs without an
    /// organisation count as `-`.
    pub async fn waiting_by_organisation(
        &self,
        top: usize,
    ) -> Result<Vec<(String, u64)>, QueueError> {
        if top == 0 {
            return Ok(Vec::new());
        }
        let stop = i64::try_from(top).unwrap_or(i64::MAX) - 1;
        let pairs: Vec<(String, f64)> = self
            .client()
            .zrevrange(self.keys().organisations(), 0, stop, true)
            .await?;
        Ok(pairs
            .into_iter()
            .map(|(organisation, waiting)| (organisation, waiting.max(0.0) as u64))
            .collect())
    }
}
