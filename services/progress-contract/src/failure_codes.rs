//! `errorCode` values of a failed job that come from the worker itself rather than from a
//! document reader (whose codes are `empty`, `encrypted`, `corrupt`, `unsupported`,
//! `no_text`). Every one of them is final: the job is not retried.

/// Reading the document needed more memory than `PARSE_MAX_MEMORY`, more decoded bytes
/// than the reader's budget, more pages than it reads, or produced more text than
/// `PARSE_MAX_OUTPUT`.
pub const DOCUMENT_TOO_LARGE: &str = "document_too_large";
/// The document nests deeper than the reader follows (it ran out of stack).
pub const DOCUMENT_TOO_COMPLEX: &str = "document_too_complex";
/// Reading the document took longer than `PARSE_TIMEOUT` (wall or CPU time).
pub const PARSE_TIMEOUT: &str = "parse_timeout";
/// The process reading the document stopped in any other way.
pub const PARSE_CRASHED: &str = "parse_crashed";
/// The workers running the job stopped without finishing it more than `MAX_RECLAIMS`
/// times.
pub const WORKER_LOST: &str = "worker_lost";

/// Every code above.
pub const ALL: [&str; 5] = [
    DOCUMENT_TOO_LARGE,
    DOCUMENT_TOO_COMPLEX,
    PARSE_TIMEOUT,
    PARSE_CRASHED,
    WORKER_LOST,
];
