//! Parsing a document in a child process, so that no document can take the worker down.
//!
//! The parsers (PDF, DOCX, text) run in a fresh process of the worker's own binary
//! ([`child`]), limited by the kernel in memory and CPU time; the worker kills it at
//! `PARSE_TIMEOUT` and reads at most `PARSE_MAX_OUTPUT` of its answer. Whatever the
//! document does — inflate to gigabytes, loop, nest until the stack overflows, abort — only
//! the child dies, and [`verdict`] turns how it ended into a permanent failure with a
//! specific code. The worker's memory never holds more than the document and its text.

pub mod child;
pub mod verdict;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use progress_contract::failure_codes;
use resume_analysis::Document;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::failure::Failure;
use crate::metrics as m;
use child::{ChildLimits, Hints};

/// First argument of a parse child.
pub const CHILD_ARG: &str = "__parse-document";

/// Most of a child's stderr kept to explain how it ended.
const STDERR_BYTES: u64 = 8 * 1024;

/// Reads up to [`STDERR_BYTES`] into `kept` and discards the rest, so a child that writes
/// much is never blocked on a full pipe.
async fn read_capped(reader: tokio::process::ChildStderr, kept: &mut Vec<u8>) {
    let mut limited = reader.take(STDERR_BYTES);
    if limited.read_to_end(kept).await.is_ok() {
        let _ = tokio::io::copy(&mut limited.into_inner(), &mut tokio::io::sink()).await;
    }
}

/// The limits of one parse.
#[derive(Clone, Debug)]
pub struct ParseLimits {
    /// Address space of the child (`RLIMIT_AS`).
    pub max_memory: u64,
    /// Wall time; CPU time is limited to the same number of seconds, rounded up.
    pub timeout: Duration,
    /// Largest text accepted (bytes of UTF-8).
    pub max_output: u64,
}

/// Starts parse children.
#[derive(Clone, Debug)]
pub struct Sandbox {
    program: PathBuf,
    limits: ParseLimits,
}

impl Sandbox {
    /// `program` must call [`child::serve_if_requested`] first thing in `main`.
    pub fn new(program: PathBuf, limits: ParseLimits) -> Self {
        Self { program, limits }
    }

    pub fn limits(&self) -> &ParseLimits {
        &self.limits
    }

    /// Parses `bytes` in a child. Every failure it returns is permanent but a child that
    /// could not be started at all.
    pub async fn parse(
        &self,
        bytes: Vec<u8>,
        mime_type: Option<String>,
        file_name: Option<String>,
    ) -> Result<Document, Failure> {
        let limits = ChildLimits {
            max_memory: self.limits.max_memory,
            cpu_seconds: self.limits.timeout.as_secs_f64().ceil().max(1.0) as u64,
            max_output: self.limits.max_output,
        };
        let mut child = Command::new(&self.program)
            .arg(CHILD_ARG)
            .args(limits.to_args())
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                Failure::retryable(
                    "internal",
                    format!(
                        "starting the document reader {} failed: {e}",
                        self.program.display()
                    ),
                )
            })?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Failure::retryable(
                "internal",
                "the document reader has no pipes",
            ));
        };
        let mut header = serde_json::to_vec(&Hints {
            mime_type,
            file_name,
        })
        .unwrap_or_default();
        header.push(b'\n');
        // The child may die before reading everything: a broken pipe is expected then.
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(&header).await;
            let _ = stdin.write_all(&bytes).await;
        });
        // The reply is JSON: allow for escaping on top of the text budget.
        let reply_limit = self.limits.max_output.saturating_mul(2) + 64 * 1024;
        let run = async move {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let mut stdout = stdout.take(reply_limit + 1);
            let (read_out, _) =
                tokio::join!(stdout.read_to_end(&mut out), read_capped(stderr, &mut err),);
            if read_out.is_ok() && out.len() as u64 > reply_limit {
                // Dropping the child kills it.
                return Err(verdict::too_much_output(reply_limit));
            }
            let status = child.wait().await.map_err(|e| {
                Failure::permanent(
                    failure_codes::PARSE_CRASHED,
                    format!("the document reader could not be waited for: {e}"),
                )
            })?;
            verdict::judge(status, &out, &err, &limits)
        };
        let started = std::time::Instant::now();
        let outcome = match tokio::time::timeout(self.limits.timeout, run).await {
            Ok(outcome) => outcome,
            // The future owned the child: dropping it killed the child (SIGKILL).
            Err(_) => Err(verdict::wall_timeout(self.limits.timeout)),
        };
        writer.abort();
        metrics::histogram!(m::PARSE_CHILD_DURATION).record(started.elapsed().as_secs_f64());
        if let Err(failure) = &outcome {
            metrics::counter!(m::PARSE_FAILURES, "kind" => failure.kind).increment(1);
        }
        outcome
    }
}
