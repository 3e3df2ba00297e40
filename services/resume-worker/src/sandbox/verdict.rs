//! How a parse child ended, turned into the document or a permanent failure with a specific
//! code ([`progress_contract::failure_codes`], or the reader's own: `corrupt`, …).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use progress_contract::failure_codes::{
    DOCUMENT_TOO_COMPLEX, DOCUMENT_TOO_LARGE, PARSE_CRASHED, PARSE_TIMEOUT,
};
use resume_analysis::Document;

use super::child::{ChildLimits, Reply};
use crate::failure::Failure;

const SIGABRT: i32 = 6;
const SIGKILL: i32 = 9;
const SIGSEGV: i32 = 11;
const SIGXCPU: i32 = 24;

/// Codes a child may answer with; anything else is a crash.
const KNOWN_CODES: [&str; 7] = [
    "empty",
    "encrypted",
    "corrupt",
    "unsupported",
    "no_text",
    DOCUMENT_TOO_LARGE,
    DOCUMENT_TOO_COMPLEX,
];

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

pub fn wall_timeout(timeout: Duration) -> Failure {
    Failure::permanent(
        PARSE_TIMEOUT,
        format!(
            "reading the document took longer than {} s; upload a simpler file (export it again as PDF, DOCX or text)",
            timeout.as_secs_f64()
        ),
    )
}

pub fn too_much_output(limit: u64) -> Failure {
    Failure::permanent(
        DOCUMENT_TOO_LARGE,
        format!(
            "the document's text is larger than {} MiB",
            mib(limit).max(1)
        ),
    )
}

/// The document, or why there is none, from a child's answer.
pub fn judge_reply(reply: &[u8]) -> Result<Document, Failure> {
    match serde_json::from_slice::<Reply>(reply) {
        Ok(Reply::Document(document)) => Ok(document),
        Ok(Reply::Error { code, message }) => {
            let code = KNOWN_CODES
                .iter()
                .find(|known| **known == code)
                .copied()
                .unwrap_or(PARSE_CRASHED);
            Err(Failure::permanent(code, message))
        }
        Err(error) => Err(Failure::permanent(
            PARSE_CRASHED,
            format!("the document reader answered nonsense ({error})"),
        )),
    }
}

/// Why a child that stopped without answering stopped, from its exit status and the end
/// of its stderr.
pub fn judge_exit(status: ExitStatus, stderr: &[u8], limits: &ChildLimits) -> Failure {
    let stderr = String::from_utf8_lossy(stderr);
    if stderr.contains("memory allocation of") {
        return Failure::permanent(
            DOCUMENT_TOO_LARGE,
            format!(
                "reading the document needs more than {} MiB of memory (a compressed part expands too far?); upload a smaller or simpler file",
                mib(limits.max_memory)
            ),
        );
    }
    if stderr.contains("has overflowed its stack") {
        return Failure::permanent(
            DOCUMENT_TOO_COMPLEX,
            "the document nests deeper than it can be read; export it again and re-upload",
        );
    }
    match status.signal() {
        Some(SIGXCPU) => Failure::permanent(
            PARSE_TIMEOUT,
            format!(
                "reading the document used more than {} s of CPU time; upload a simpler file",
                limits.cpu_seconds
            ),
        ),
        signal => {
            let how = match signal {
                Some(SIGKILL) => "it was killed (out of memory?)".to_owned(),
                Some(SIGSEGV) => "it crashed (segmentation fault)".to_owned(),
                Some(SIGABRT) => "it aborted".to_owned(),
                Some(other) => format!("signal {other}"),
                None => format!("exit code {}", status.code().unwrap_or(-1)),
            };
            let detail: String = stderr.trim().chars().take(200).collect();
            if !detail.is_empty() {
                tracing::warn!(stderr = %detail, "the document reader stopped");
            }
            Failure::permanent(
                PARSE_CRASHED,
                format!(
                    "the document reader stopped unexpectedly ({how}); the file cannot be read, export it again and re-upload"
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ChildLimits = ChildLimits {
        max_memory: 512 << 20,
        cpu_seconds: 5,
        max_output: 1 << 20,
    };

    fn killed(signal: i32) -> ExitStatus {
        ExitStatus::from_raw(signal)
    }

    fn exited(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    fn code(result: Result<Document, Failure>) -> &'static str {
        let failure = result.unwrap_err();
        assert!(!failure.retryable);
        failure.kind
    }

    fn judge(
        status: ExitStatus,
        reply: &[u8],
        stderr: &[u8],
        limits: &ChildLimits,
    ) -> Result<Document, Failure> {
        if status.success() && !reply.is_empty() {
            judge_reply(reply)
        } else {
            Err(judge_exit(status, stderr, limits))
        }
    }

    #[test]
    fn the_way_a_child_ends_names_the_failure() {
        let oom = b"memory allocation of 2137350656 bytes failed\n";
        assert_eq!(
            code(judge(killed(SIGABRT), b"", oom, &LIMITS)),
            DOCUMENT_TOO_LARGE
        );
        let stack =
            b"\nthread 'main' has overflowed its stack\nfatal runtime error: stack overflow";
        assert_eq!(
            code(judge(killed(SIGABRT), b"", stack, &LIMITS)),
            DOCUMENT_TOO_COMPLEX
        );
        assert_eq!(
            code(judge(killed(SIGXCPU), b"", b"", &LIMITS)),
            PARSE_TIMEOUT
        );
        assert_eq!(
            code(judge(killed(SIGSEGV), b"", b"", &LIMITS)),
            PARSE_CRASHED
        );
        assert_eq!(
            code(judge(exited(101), b"", b"panicked", &LIMITS)),
            PARSE_CRASHED
        );
    }

    #[test]
    fn answers_are_read() {
        let reply = br#"{"error":{"code":"corrupt","message":"bad xref"}}"#;
        assert_eq!(code(judge(exited(0), reply, b"", &LIMITS)), "corrupt");
        let reply = br#"{"error":{"code":"made_up","message":"?"}}"#;
        assert_eq!(code(judge(exited(0), reply, b"", &LIMITS)), PARSE_CRASHED);
        assert_eq!(code(judge(exited(0), b"{", b"", &LIMITS)), PARSE_CRASHED);
        let reply = br#"{"document":{"format":"text","text":"Jane","pages":null}}"#;
        let document = judge(exited(0), reply, b"", &LIMITS).unwrap();
        assert_eq!(document.text, "Jane");
    }
}
