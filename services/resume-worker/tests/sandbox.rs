//! The parse sandbox on its own: a real child serves documents one after the other, and
//! children that hang, abort or flood their output end as the right permanent failure while
//! the next document is served by a fresh child.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use resume_analysis::fixtures;
use resume_worker::sandbox::{ParseLimits, Sandbox};

fn limits(timeout: Duration) -> ParseLimits {
    ParseLimits {
        max_memory: 256 << 20,
        timeout,
        max_output: 1 << 20,
    }
}

/// A stand-in child: a shell script.
fn script(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sandbox-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn one_warm_child_reads_document_after_document() {
    let sandbox = Sandbox::new(
        env!("CARGO_BIN_EXE_resume-worker").into(),
        limits(Duration::from_secs(10)),
        1,
    );
    let pdf = fixtures::pdf_from_lines(&[fixtures::sample_resume_lines()]);
    for _ in 0..3 {
        let document = sandbox
            .parse(pdf.clone(), Some("application/pdf".into()), None)
            .await
            .unwrap();
        assert!(document.text.contains("jane.doe@example.com"));
        // A document the reader refuses leaves the child healthy for the next one.
        let failure = sandbox
            .parse(fixtures::corrupt_pdf(), None, None)
            .await
            .unwrap_err();
        assert_eq!((failure.kind, failure.retryable), ("corrupt", false));
    }
}

#[tokio::test]
async fn a_child_that_hangs_is_killed_at_the_timeout() {
    let sandbox = Sandbox::new(
        script("hang", "sleep 30"),
        limits(Duration::from_millis(300)),
        1,
    );
    let started = Instant::now();
    let failure = sandbox
        .parse(b"Jane".to_vec(), None, None)
        .await
        .unwrap_err();
    assert_eq!(failure.kind, "parse_timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn how_a_child_ends_names_the_failure() {
    let abort = script(
        "oom",
        "head -c 1 > /dev/null; echo 'memory allocation of 2137350656 bytes failed' >&2; kill -ABRT $$",
    );
    let sandbox = Sandbox::new(abort, limits(Duration::from_secs(5)), 1);
    let failure = sandbox
        .parse(b"Jane".to_vec(), None, None)
        .await
        .unwrap_err();
    assert_eq!(failure.kind, "document_too_large", "{}", failure.message);

    let segfault = script("segv", "head -c 1 > /dev/null; kill -SEGV $$");
    let sandbox = Sandbox::new(segfault, limits(Duration::from_secs(5)), 1);
    let failure = sandbox
        .parse(b"Jane".to_vec(), None, None)
        .await
        .unwrap_err();
    assert_eq!(failure.kind, "parse_crashed", "{}", failure.message);

    let flood = script("flood", "head -c 1 > /dev/null; yes x | tr -d '\\n'");
    let sandbox = Sandbox::new(flood, limits(Duration::from_secs(5)), 1);
    let failure = sandbox
        .parse(b"Jane".to_vec(), None, None)
        .await
        .unwrap_err();
    assert_eq!(failure.kind, "document_too_large", "{}", failure.message);

    let missing = Sandbox::new(
        "/nonexistent/resume-worker".into(),
        limits(Duration::from_secs(5)),
        1,
    );
    let failure = missing
        .parse(b"Jane".to_vec(), None, None)
        .await
        .unwrap_err();
    assert_eq!((failure.kind, failure.retryable), ("internal", true));
}
