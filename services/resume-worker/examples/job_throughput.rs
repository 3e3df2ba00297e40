//! Jobs per second of one worker process, end to end through Redis (claim, fetch the upload,
//! parse, extract, analyse, publish every stage, store), per document type.
//!
//! `cargo run --release -p resume-worker --example job_throughput [jobs-per-type]
//! [organisations] [input]`: the jobs spread over `organisations` organisations in turn
//! (default 0: none), only the input whose name starts with `input` (default all).
//! Starts its own redis-server on a free port.

use std::io::Write;
use std::time::{Duration, Instant};

use job_queue::{JobOptions, NewJob, Queue};
use progress_contract::jobs::ResumeJobData;
use resume_analysis::fixtures::{docx_from_paragraphs, pdf_from_lines, sample_resume_lines};
use resume_worker::{Application, WorkerConfig};
use service_runtime::redis::RedisOptions;
use test_support::RedisServer;
use tokio_util::sync::CancellationToken;

fn main() -> anyhow::Result<()> {
    // Documents are parsed in children of this same program.
    resume_worker::sandbox::child::serve_if_requested();
    run()
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let per_type: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let organisations: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let only = std::env::args().nth(3).unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let lines = sample_resume_lines();
    let five: Vec<Vec<String>> = (0..5).map(|_| lines.clone()).collect();
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("PDF, 1 page", pdf_from_lines(std::slice::from_ref(&lines))),
        ("PDF, 5 pages", pdf_from_lines(&five)),
        ("DOCX", docx_from_paragraphs(&lines)),
        ("text", lines.join("\n").into_bytes()),
    ];
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "| input | jobs | seconds | jobs/s (one worker, concurrency {cores}) |"
    )?;
    writeln!(out, "|---|---|---|---|")?;
    for (name, bytes) in inputs {
        if !name.starts_with(only.as_str()) {
            continue;
        }
        let redis = RedisServer::start();
        let client = RedisOptions::new(redis.url()).connect_client().await?;
        let queue = Queue::new(client, "resume-analysis");
        for i in 0..per_type {
            let job_id = format!("bench-{i}");
            queue
                .store_file(&job_id, bytes.clone(), Duration::from_secs(600))
                .await?;
            let data = ResumeJobData {
                resume_id: format!("r{i}"),
                uploaded: true,
                ..ResumeJobData::default()
            };
            let job = NewJob {
                name: "analyze-resume".into(),
                data: serde_json::to_value(&data)?,
                organisation_id: (organisations > 0).then(|| format!("org-{}", i % organisations)),
                traceparent: None,
            };
            queue.add(&job_id, &job, &JobOptions::default()).await?;
        }
        let mut config = WorkerConfig::local(redis.url());
        config.concurrency = cores as u32;
        let worker = Application::build(config).await?;
        let stop = CancellationToken::new();
        let started = Instant::now();
        let handle = tokio::spawn(worker.run_until_stopped(stop.clone()));
        loop {
            let counts = queue.counts().await?;
            if counts.completed as usize >= per_type {
                break;
            }
            anyhow::ensure!(counts.failed == 0, "a benchmark job failed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = started.elapsed();
        stop.cancel();
        handle.await??;
        writeln!(
            out,
            "| {name} | {per_type} | {:.2} | {:.0} |",
            elapsed.as_secs_f64(),
            per_type as f64 / elapsed.as_secs_f64()
        )?;
    }
    Ok(())
}
