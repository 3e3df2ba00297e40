//! Parsing a document in a child process, so that no document can take the worker down.
//!
//! The parsers (PDF, DOCX, text) run in a process of the worker's own binary ([`child`]),
//! limited by the kernel in memory and CPU time; the worker kills it at `PARSE_TIMEOUT` and
//! reads at most `PARSE_MAX_OUTPUT` of its answer. A child that answered is kept warm for the
//! next document (up to one per concurrent job, each replaced after 500 documents or one
//! over 1 MiB); a child that hit a limit is gone, and the next document gets a fresh one. Whatever the
//! document does — inflate to gigabytes, loop, nest until the stack overflows, abort — only
//! the child dies, and [`verdict`] turns how it ended into a permanent failure with a
//! specific code. The worker's memory never holds more than the document and its text.
//! A parse that is no longer wanted (its job was cancelled) is abandoned with
//! [`Sandbox::parse_until`]: the child is killed and reaped at once.

pub mod child;
mod process;
pub mod verdict;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use progress_contract::failure_codes;
use resume_analysis::Document;

use crate::failure::Failure;
use crate::metrics as m;
use child::{ChildLimits, Hints};
use process::{NoReply, ParseChild};

/// First argument of a parse child.
pub const CHILD_ARG: &str = "__parse-document";

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

/// Documents one child reads before it is replaced, so no child lives long enough to carry
/// much from one document to the next.
const MAX_DOCUMENTS_PER_CHILD: u32 = 500;
/// A child that read a document larger than this is replaced after it (its heap grew).
const RECYCLE_AFTER_BYTES: usize = 1024 * 1024;

/// Starts parse children and keeps a few idle ones warm.
pub struct Sandbox {
    program: PathBuf,
    limits: ParseLimits,
    idle: Mutex<Vec<ParseChild>>,
    max_idle: usize,
}

impl Sandbox {
    /// `program` must call [`child::serve_if_requested`] first thing in `main`; up to
    /// `max_idle` children wait between documents (0: a fresh child per document).
    pub fn new(program: PathBuf, limits: ParseLimits, max_idle: usize) -> Self {
        Self {
            program,
            limits,
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    pub fn limits(&self) -> &ParseLimits {
        &self.limits
    }

    fn child_limits(&self) -> ChildLimits {
        ChildLimits {
            max_memory: self.limits.max_memory,
            cpu_seconds: self.limits.timeout.as_secs_f64().ceil().max(1.0) as u64,
            max_output: self.limits.max_output,
        }
    }

    fn take_child(&self) -> Result<ParseChild, Failure> {
        if let Some(child) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(child);
        }
        ParseChild::spawn(&self.program, self.child_limits()).map_err(|e| {
            Failure::retryable(
                "internal",
                format!(
                    "starting the document reader {} failed: {e}",
                    self.program.display()
                ),
            )
        })
    }

    fn give_back(&self, child: ParseChild, document_bytes: usize) {
        if child.served >= MAX_DOCUMENTS_PER_CHILD || document_bytes > RECYCLE_AFTER_BYTES {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push(child);
        }
    }

    /// Parses `bytes` in a child. Every failure it returns is permanent but a child that
    /// could not be started at all.
    pub async fn parse(
        &self,
        bytes: Vec<u8>,
        mime_type: Option<String>,
        file_name: Option<String>,
    ) -> Result<Document, Failure> {
        match self
            .parse_until(bytes, mime_type, file_name, std::future::pending())
            .await
        {
            Some(outcome) => outcome,
            None => unreachable_stop(),
        }
    }

    /// As [`Sandbox::parse`], but gives up when `stop` completes first: the child is killed
    /// and reaped before this returns `None`.
    pub async fn parse_until(
        &self,
        bytes: Vec<u8>,
        mime_type: Option<String>,
        file_name: Option<String>,
        stop: impl Future<Output = ()>,
    ) -> Option<Result<Document, Failure>> {
        let started = std::time::Instant::now();
        let outcome = self.run(&bytes, mime_type, file_name, stop).await;
        metrics::histogram!(m::PARSE_CHILD_DURATION).record(started.elapsed().as_secs_f64());
        if let Some(Err(failure)) = &outcome {
            metrics::counter!(m::PARSE_FAILURES, "kind" => failure.kind).increment(1);
        }
        outcome
    }

    async fn run(
        &self,
        bytes: &[u8],
        mime_type: Option<String>,
        file_name: Option<String>,
        stop: impl Future<Output = ()>,
    ) -> Option<Result<Document, Failure>> {
        let mut header = serde_json::to_vec(&Hints {
            mime_type,
            file_name,
            length: bytes.len() as u64,
        })
        .unwrap_or_default();
        header.push(b'\n');
        // The reply is JSON: allow for escaping on top of the text budget.
        let reply_limit = self.limits.max_output.saturating_mul(2) + 64 * 1024;
        let mut child = match self.take_child() {
            Ok(child) => child,
            Err(failure) => return Some(Err(failure)),
        };
        let exchanged = {
            let exchange = tokio::time::timeout(
                self.limits.timeout,
                child.exchange(&header, bytes, reply_limit),
            );
            tokio::select! {
                exchanged = exchange => Some(exchanged),
                () = stop => None,
            }
        };
        let Some(exchanged) = exchanged else {
            child.stop().await;
            return None;
        };
        Some(match exchanged {
            // Dropping the child kills it (SIGKILL).
            Err(_) => Err(verdict::wall_timeout(self.limits.timeout)),
            Ok(Err(NoReply::TooLong)) => Err(verdict::too_much_output(reply_limit)),
            Ok(Err(NoReply::Ended)) => {
                let (status, stderr) = child.ended().await;
                Err(match status {
                    Some(status) => verdict::judge_exit(status, &stderr, &self.child_limits()),
                    None => Failure::permanent(
                        failure_codes::PARSE_CRASHED,
                        "the document reader stopped answering",
                    ),
                })
            }
            Ok(Ok(reply)) => {
                let document = verdict::judge_reply(&reply);
                self.give_back(child, bytes.len());
                document
            }
        })
    }
}

/// `parse` never stops early: its `stop` never completes.
fn unreachable_stop() -> Result<Document, Failure> {
    Err(Failure::retryable(
        "internal",
        "the document reader stopped without a reason",
    ))
}
