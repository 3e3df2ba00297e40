//! Queue errors.

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("Redis: {0}")]
    Redis(#[from] fred::error::Error),
    #[error("unexpected reply from Redis: {0}")]
    Reply(String),
    #[error("encoding job data: {0}")]
    Encode(#[from] serde_json::Error),
    /// A page cursor this queue did not hand out (or one made for another listing or filter).
    #[error("the cursor is not one this listing returned")]
    BadCursor,
}
