//! Hostile and huge documents: each fails its job for good with a specific `errorCode`,
//! within `PARSE_TIMEOUT` + 2 s, the worker's memory stays bounded, and the same worker then
//! completes a normal résumé.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use resume_analysis::fixtures;
use serde_json::json;

use crate::corpus;
use crate::helpers::{stack, until_finished};

/// Short for a test, long enough for a debug build to inflate to the memory limit.
const PARSE_TIMEOUT: Duration = Duration::from_secs(4);
const GIB: u64 = 1 << 30;

/// Resident memory of this process (worker, gateway and file server together), in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Samples RSS every 10 ms until dropped; keeps the peak.
struct PeakRss {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl PeakRss {
    fn start() -> Self {
        let peak = Arc::new(AtomicU64::new(rss()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Self { peak, stop }
    }

    fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for PeakRss {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_fail_with_their_code_and_the_worker_lives_on() {
    let stack = stack().await;
    let mut config = stack.worker_config();
    config.parse_timeout = PARSE_TIMEOUT;
    config.parse_max_memory = 128 << 20;
    config.fetch_max_bytes = 16 << 20;
    config.concurrency = 1;
    let worker = stack.start_worker(config).await;
    let resume = fixtures::pdf_from_lines(&[fixtures::sample_resume_lines()]);
    stack
        .files
        .put("good.pdf", resume.clone(), "application/pdf");

    let corpus: Vec<(&str, Vec<u8>, &str)> = vec![
        ("flate-bomb", corpus::flate_bomb(GIB), "document_too_large"),
        (
            "double-flate-bomb",
            corpus::double_flate_bomb(GIB),
            "document_too_large",
        ),
        (
            "ascii85-flate-bomb",
            corpus::ascii85_flate_bomb(GIB),
            "document_too_large",
        ),
        (
            "object-stream-bomb",
            corpus::object_stream_bomb(GIB),
            "document_too_large",
        ),
        (
            "ten-thousand-pages",
            corpus::many_pages(10_000),
            "document_too_large",
        ),
        ("nested-arrays", corpus::nested_arrays(100_000), "corrupt"),
        (
            "nested-dictionaries",
            corpus::nested_dictionaries(100_000),
            "corrupt",
        ),
        ("reference-loop", corpus::reference_loop(), "corrupt"),
        (
            "truncated",
            corpus::truncated(&resume, resume.len() / 2),
            "corrupt",
        ),
        ("docx-zip-bomb", corpus::docx_bomb(64), "document_too_large"),
        (
            "docx-nested",
            corpus::docx_nested(100_000),
            "document_too_complex",
        ),
        (
            "one-line-text",
            corpus::one_line_text(10 << 20),
            "document_too_large",
        ),
    ];
    let sizes: Vec<(&str, usize)> = corpus.iter().map(|(n, b, _)| (*n, b.len())).collect();
    for (name, bytes, _) in &corpus {
        stack
            .files
            .put(name, bytes.clone(), "application/octet-stream");
    }
    let expected: Vec<(&str, &str)> = corpus.iter().map(|(n, _, c)| (*n, *c)).collect();
    drop(corpus);

    let baseline = rss();
    let sampler = PeakRss::start();
    let mut seen = Vec::new();
    let mut wrong = Vec::new();
    for (name, code) in &expected {
        let job_id = format!("hostile-{name}");
        let mut stream = stack.watch(&job_id).await;
        let started = Instant::now();
        let (status, body) = stack
            .add(
                &job_id,
                &stack.files.url(&format!("/files/{name}")),
                json!({}),
                json!({}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let updates = until_finished(&mut stream).await;
        let elapsed = started.elapsed();
        let last = updates.last().unwrap();
        seen.push(format!(
            "{name}: {} {} in {:?}",
            last["status"], last["errorCode"], elapsed
        ));
        if last["errorCode"] != *code {
            wrong.push(format!("{name}: {last}"));
            continue;
        }
        assert_eq!(last["status"], "failed", "{name}: {last}");
        if *name == "ascii85-flate-bomb" {
            // Past the reader's budgets: stopped by the kernel's limit on the child.
            let error = last["error"].as_str().unwrap_or_default();
            assert!(error.contains("MiB of memory"), "{error}");
        }
        assert_eq!(last["stage"], "parsing", "{name}: {last}");
        assert!(
            elapsed < PARSE_TIMEOUT + Duration::from_secs(2),
            "{name} took {elapsed:?}"
        );
        assert!(
            updates.iter().all(|u| u["status"] != "retrying"),
            "{name} is not retried: {updates:?}"
        );
        let job = stack.wait_state(&job_id, "failed").await;
        assert_eq!(job["attempts"], 1, "{name}");
        assert_eq!(job["errorCode"], *code, "{name}");

        // The same worker goes on with a normal résumé.
        let good = format!("after-{name}");
        let mut stream = stack.watch(&good).await;
        stack
            .add(
                &good,
                &stack.files.url("/files/good.pdf"),
                json!({}),
                json!({}),
            )
            .await;
        let last = until_finished(&mut stream).await.pop().unwrap();
        assert_eq!(last["status"], "completed", "after {name}: {last}");
        assert_eq!(last["result"]["contact"]["email"], "jane.doe@example.com");
    }
    assert!(
        wrong.is_empty(),
        "{}\n{}",
        wrong.join("\n"),
        seen.join("\n")
    );
    let peak = sampler.peak();
    drop(sampler);
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    // Shown with --nocapture; docs/benchmarks.md records it.
    eprintln!(
        "corpus: {sizes:?}\n{}\nRSS of the test process (worker, gateway, file server): {:.0} MiB before, peak {:.0} MiB during the corpus",
        seen.join("\n"),
        mib(baseline),
        mib(peak)
    );
    // The worker holds a document (at most 10 MiB here) and its text, never what it expands to.
    assert!(
        peak < baseline + (96 << 20),
        "RSS grew from {:.0} MiB to {:.0} MiB",
        mib(baseline),
        mib(peak)
    );
    worker.stop.cancel();
    worker.handle.await.unwrap().unwrap();
}
