//! The child side: a process of the worker's own binary, started with
//! [`CHILD_ARG`](super::CHILD_ARG), that limits itself before it reads a byte of any
//! document, then reads documents from stdin one after the other and writes one line of JSON
//! [`Reply`] to stdout for each.
//!
//! Limits are set with `setrlimit` on the child itself, so the kernel enforces them:
//! `RLIMIT_AS` (address space: an allocation past it fails and the process aborts),
//! `RLIMIT_CPU` (CPU seconds, set again before each document to what the process has used
//! plus the budget: `SIGXCPU` past it) and `RLIMIT_CORE` 0 (no core
//! files), and `oom_score_adj` 1000 makes the child the first process the kernel's OOM
//! killer picks. The parent still kills the child at `PARSE_TIMEOUT` of wall time and reads at
//! most `PARSE_MAX_OUTPUT` of its output.

use std::ffi::OsString;
use std::io::{BufRead, Read, Write};

use anyhow::Context;
use progress_contract::failure_codes;
use rlimit::Resource;
use serde::{Deserialize, Serialize};

use super::CHILD_ARG;

/// What the parent tells the child on the command line, before the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildLimits {
    pub max_memory: u64,
    pub cpu_seconds: u64,
    pub max_output: u64,
}

impl ChildLimits {
    pub fn to_args(self) -> [String; 3] {
        [
            self.max_memory.to_string(),
            self.cpu_seconds.to_string(),
            self.max_output.to_string(),
        ]
    }

    fn from_args(args: &[OsString]) -> anyhow::Result<Self> {
        let number = |i: usize| -> anyhow::Result<u64> {
            args.get(i)
                .and_then(|a| a.to_str())
                .and_then(|a| a.parse().ok())
                .with_context(|| format!("argument {i} must be a number"))
        };
        Ok(Self {
            max_memory: number(0)?,
            cpu_seconds: number(1)?,
            max_output: number(2)?,
        })
    }
}

/// The line before each document on the child's stdin; `length` bytes of document follow.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hints {
    pub mime_type: Option<String>,
    pub file_name: Option<String>,
    pub length: u64,
}

/// The child's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reply {
    Document(resume_analysis::Document),
    Error { code: String, message: String },
}

/// Serves one document and exits when this process was started as a parse child; returns
/// at once otherwise. Every binary that runs a worker calls this first thing in `main`.
pub fn serve_if_requested() {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_none_or(|first| first != CHILD_ARG) {
        return;
    }
    let args: Vec<OsString> = args.collect();
    let code = match serve(&args) {
        Ok(()) => 0,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "parse child: {error:#}");
            2
        }
    };
    std::process::exit(code);
}

/// Serves documents until stdin closes: for each, a header line, the bytes, then one line
/// of JSON [`Reply`] on stdout. Each document gets its own CPU-time budget.
fn serve(args: &[OsString]) -> anyhow::Result<()> {
    let limits = ChildLimits::from_args(args)?;
    limit_self(limits)?;
    let mut input = std::io::stdin().lock();
    let mut header = Vec::new();
    loop {
        header.clear();
        if input
            .read_until(b'\n', &mut header)
            .context("reading a header")?
            == 0
        {
            return Ok(());
        }
        let hints: Hints = serde_json::from_slice(&header).context("reading a header")?;
        limit_cpu(limits.cpu_seconds)?;
        let mut bytes = Vec::new();
        (&mut input)
            .take(hints.length)
            .read_to_end(&mut bytes)
            .context("reading the document")?;
        anyhow::ensure!(
            bytes.len() as u64 == hints.length,
            "the document was cut short"
        );
        let reply = parse(&bytes, &hints, limits.max_output);
        drop(bytes);
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &reply).context("writing the reply")?;
        out.write_all(b"\n").context("writing the reply")?;
        out.flush().context("writing the reply")?;
    }
}

fn limit_self(limits: ChildLimits) -> anyhow::Result<()> {
    rlimit::setrlimit(Resource::AS, limits.max_memory, limits.max_memory)
        .context("setting RLIMIT_AS")?;
    rlimit::setrlimit(Resource::CORE, 0, 0).context("setting RLIMIT_CORE")?;
    // If the pod's memory runs out anyway, the kernel kills this process, not the worker.
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
    Ok(())
}

/// CPU seconds this process has used so far (user + system, from `/proc/self/stat`).
fn cpu_seconds_used() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with the last ')'): utime is the 12th, stime
    // the 13th, in clock ticks (100 per second on Linux).
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|t| t.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    ticks.div_ceil(100)
}

/// The next document may use `seconds` of CPU: `SIGXCPU` past that.
fn limit_cpu(seconds: u64) -> anyhow::Result<()> {
    let (_, hard) = rlimit::getrlimit(Resource::CPU).context("reading RLIMIT_CPU")?;
    let soft = (cpu_seconds_used() + seconds).min(hard);
    rlimit::setrlimit(Resource::CPU, soft, hard).context("setting RLIMIT_CPU")
}

/// Parses and checks the text against the output budget (the JSON adds a little).
pub fn parse(bytes: &[u8], hints: &Hints, max_output: u64) -> Reply {
    match resume_analysis::parse(
        bytes,
        hints.mime_type.as_deref(),
        hints.file_name.as_deref(),
    ) {
        Ok(document) if document.text.len() as u64 > max_output => Reply::Error {
            code: failure_codes::DOCUMENT_TOO_LARGE.into(),
            message: format!(
                "the document holds {} bytes of text, more than the {} read from one résumé",
                document.text.len(),
                max_output
            ),
        },
        Ok(document) => Reply::Document(document),
        Err(error) => Reply::Error {
            code: error.code().into(),
            message: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_round_trip_through_arguments() {
        let limits = ChildLimits {
            max_memory: 512 << 20,
            cpu_seconds: 31,
            max_output: 2 << 20,
        };
        let args: Vec<OsString> = limits.to_args().iter().map(OsString::from).collect();
        assert_eq!(ChildLimits::from_args(&args).unwrap(), limits);
        assert!(ChildLimits::from_args(&args[..2]).is_err());
    }

    #[test]
    fn text_over_the_output_budget_is_too_large() {
        let text = "Jane Doe ".repeat(1000);
        let Reply::Error { code, .. } = parse(text.as_bytes(), &Hints::default(), 100) else {
            panic!("too large")
        };
        assert_eq!(code, "document_too_large");
        assert!(matches!(
            parse(text.as_bytes(), &Hints::default(), 1 << 20),
            Reply::Document(_)
        ));
    }
}
