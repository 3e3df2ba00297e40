//! Why a job attempt failed, and whether trying again could help.

/// A failed attempt.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Short machine-readable kind (metric label).
    pub kind: &'static str,
    /// What the user sees in `job_update.error`.
    pub message: String,
    /// False for bad input (corrupt file, forbidden URL): retrying cannot help.
    pub retryable: bool,
}

impl Failure {
    pub fn permanent(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable: false,
        }
    }

    pub fn retryable(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable: true,
        }
    }
}
