//! Queue errors.

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("Redis: {0}")]
    Redis(#[from] fred::error::Error),
    #[error("unexpected reply from Redis: {0}")]
    Reply(String),
    #[error("encoding job data: {0}")]
    Encode(#[from] serde_json::Error),
    /// A page cursor this crate did not make.
    #[error("not a cursor of this list")]
    BadCursor,
}
