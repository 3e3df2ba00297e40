//! Cancelling jobs against a real redis-server and a real worker: waiting, waiting for a
//! retry, running in each stage, reading a slow document (its process is gone afterwards),
//! and racing the completion. A cancelled job's history ends with exactly one `cancelled`
//! event and nothing after it.

use std::time::Duration;

use job_queue::cancel::CancelOutcome;
use job_queue::{JobOptions, RetryOutcome};
use progress_contract::events::Stage;

use crate::control::{Gate, assert_ends_cancelled, control, next_held, statuses, stop};

fn once() -> JobOptions {
    JobOptions {
        attempts: 1,
        ..JobOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_job_cancelled_never_runs() {
    let control = control().await;
    control
        .add("w-cancelled", "org-1", "/files/resume.txt", once())
        .await;
    control
        .add("w-after", "org-1", "/files/resume.txt", once())
        .await;
    let outcome = control.queue.cancel("w-cancelled").await.unwrap();
    assert!(
        matches!(outcome, CancelOutcome::Cancelled(_)),
        "{outcome:?}"
    );
    let again = control.queue.cancel("w-cancelled").await.unwrap();
    assert!(
        matches!(again, CancelOutcome::AlreadyCancelled(_)),
        "{again:?}"
    );

    let worker = control.start_worker(control.worker_config(), None).await;
    control.wait_state("w-after", "completed").await;
    let job = control.job("w-cancelled").await;
    assert_eq!(job.state.as_str(), "cancelled");
    assert_eq!(job.attempts, 0, "it never ran");
    assert!(
        control.history("w-cancelled").await.is_empty(),
        "the worker published nothing for it"
    );
    stop(worker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_waiting_for_its_retry_cancelled_is_not_tried_again() {
    let control = control().await;
    let options = JobOptions {
        attempts: 3,
        backoff: Duration::from_millis(1500),
        ..JobOptions::default()
    };
    control
        .add("d-1", "org-1", "/unavailable/resume.txt", options)
        .await;
    let worker = control.start_worker(control.worker_config(), None).await;
    control.wait_state("d-1", "delayed").await;
    let outcome = control.queue.cancel("d-1").await.unwrap();
    assert!(
        matches!(outcome, CancelOutcome::Cancelled(_)),
        "{outcome:?}"
    );
    // Past the backoff: nothing ran again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let job = control.job("d-1").await;
    assert_eq!(job.state.as_str(), "cancelled");
    assert_eq!(job.attempts, 1, "the retry never ran");
    let history = statuses(&control.history("d-1").await);
    assert_eq!(
        history.last().map(String::as_str),
        Some("retrying"),
        "{history:?}"
    );
    stop(worker).await;
}

const STAGES: [Stage; 6] = [
    Stage::Initializing,
    Stage::Fetching,
    Stage::Parsing,
    Stage::Extracting,
    Stage::Analyzing,
    Stage::Storing,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_cancelled_in_any_stage_stops_there() {
    let control = control().await;
    let ids: Vec<String> = STAGES
        .iter()
        .map(|s| format!("at-{}", s.as_str()))
        .collect();
    let holds: Vec<(&str, Stage)> = ids.iter().map(String::as_str).zip(STAGES).collect();
    let (gate, mut entered) = Gate::new(&holds);
    let mut config = control.worker_config();
    config.concurrency = 6;
    let (worker, admin) = control
        .start_worker_with_admin(config, Some(gate.stage_gate()))
        .await;
    for id in &ids {
        control.add(id, "org-1", "/files/resume.txt", once()).await;
    }
    for _ in &ids {
        let held = next_held(&mut entered).await;
        let outcome = control.queue.cancel(&held).await.unwrap();
        assert!(
            matches!(outcome, CancelOutcome::Requested(_)),
            "{held}: {outcome:?}"
        );
        let again = control.queue.cancel(&held).await.unwrap();
        assert!(
            matches!(again, CancelOutcome::Requested(_)),
            "{held}: {again:?}"
        );
    }
    gate.release_all();
    for (id, stage) in ids.iter().zip(STAGES) {
        let job = control.wait_state(id, "cancelled").await;
        assert!(job.result.is_none(), "{id} stored no result");
        // Nothing comes after the final event: give the worker time to misbehave.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let history = control.history(id).await;
        let stages = assert_ends_cancelled(id, &history);
        assert_eq!(
            stages.last().map(String::as_str),
            Some(stage.as_str()),
            "{id} stopped in its stage: {stages:?}"
        );
        let cancelled = history.last().unwrap();
        assert_eq!(cancelled["stage"], stage.as_str(), "{cancelled}");
    }
    let counts = control.queue.counts().await.unwrap();
    assert_eq!((counts.active, counts.cancelled), (0, 6), "{counts:?}");
    // Counted by outcome (the registry is shared by the tests of this process: at least).
    let metrics = reqwest::get(format!("http://127.0.0.1:{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cancelled: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("worker_jobs_total{outcome=\"cancelled\"}"))
        .and_then(|v| v.trim().parse().ok())
        .expect("the cancelled outcome is exported");
    assert!(cancelled >= 6.0, "{cancelled}");
    stop(worker).await;
}

/// A reader program that answers nothing for a minute, and writes its pid next to itself.
fn slow_reader(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("slow-reader");
    let pid = dir.join("reader.pid");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho $$ > {}\nexec /bin/sleep 60\n",
            pid.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_being_read_is_abandoned_and_its_process_ends() {
    let control = control().await;
    let dir = std::env::temp_dir().join(format!("slow-reader-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = control.worker_config();
    config.parse_program = slow_reader(&dir).display().to_string();
    config.parse_timeout = Duration::from_secs(60);
    config.parse_idle_children = Some(0);
    let worker = control.start_worker(config, None).await;
    control
        .add("slow-1", "org-1", "/files/resume.txt", once())
        .await;

    let pid_file = dir.join("reader.pid");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let pid: u32 = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            break pid;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reader never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(alive(pid));
    let job = control.wait_state("slow-1", "active").await;
    assert_eq!(job.stage.as_deref(), Some("parsing"));

    let requested = std::time::Instant::now();
    let outcome = control.queue.cancel("slow-1").await.unwrap();
    assert!(
        matches!(outcome, CancelOutcome::Requested(_)),
        "{outcome:?}"
    );
    control.wait_state("slow-1", "cancelled").await;
    let took = requested.elapsed();
    assert!(
        !alive(pid),
        "the reading process {pid} is gone (killed and reaped)"
    );
    assert!(took < Duration::from_secs(3), "noticed in {took:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stages = assert_ends_cancelled("slow-1", &control.history("slow-1").await);
    assert_eq!(stages.last().map(String::as_str), Some("parsing"));
    stop(worker).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_racing_the_completion_gives_exactly_one_outcome() {
    const JOBS: usize = 40;
    let control = control().await;
    let ids: Vec<String> = (0..JOBS).map(|i| format!("race-{i:02}")).collect();
    let holds: Vec<(&str, Stage)> = ids.iter().map(|id| (id.as_str(), Stage::Storing)).collect();
    let (gate, mut entered) = Gate::new(&holds);
    let mut config = control.worker_config();
    config.concurrency = 4;
    let worker = control.start_worker(config, Some(gate.stage_gate())).await;
    for id in &ids {
        control.add(id, "org-1", "/files/resume.txt", once()).await;
    }
    let (mut completed, mut cancelled) = (0, 0);
    for i in 0..JOBS {
        let held = next_held(&mut entered).await;
        // The job goes on to store its result while the cancel arrives, the one a little
        // before the other, then the other way round.
        let release = {
            let (gate, held) = (gate.clone(), held.clone());
            let lead = Duration::from_micros(200 * (i as u64 % 8));
            tokio::spawn(async move {
                tokio::time::sleep(lead).await;
                gate.release(&held);
            })
        };
        tokio::time::sleep(Duration::from_micros(400)).await;
        let outcome = control.queue.cancel(&held).await.unwrap();
        release.await.unwrap();
        let job = loop {
            let job = control.job(&held).await;
            if matches!(job.state.as_str(), "completed" | "cancelled") {
                break job;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        let history = statuses(&control.history(&held).await);
        let terminal: Vec<&String> = history
            .iter()
            .filter(|s| matches!(s.as_str(), "completed" | "cancelled" | "failed"))
            .collect();
        assert_eq!(terminal.len(), 1, "{held}: {history:?}");
        assert_eq!(
            history.last(),
            Some(terminal[0]),
            "{held}: nothing after the end"
        );
        assert_eq!(
            terminal[0].as_str(),
            job.state.as_str(),
            "{held}: {history:?}"
        );
        match (job.state.as_str(), &outcome) {
            ("completed", CancelOutcome::Finished(_)) => completed += 1,
            ("cancelled", CancelOutcome::Requested(_)) => cancelled += 1,
            (state, outcome) => panic!("{held}: {state} after {outcome:?}"),
        }
    }
    eprintln!("cancel/complete race: {completed} completed, {cancelled} cancelled of {JOBS}");
    assert_eq!(completed + cancelled, JOBS);
    let counts = control.queue.counts().await.unwrap();
    assert_eq!(
        (counts.completed, counts.cancelled, counts.active),
        (completed as u64, cancelled as u64, 0),
        "{counts:?}"
    );
    stop(worker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_taken_over_after_its_cancel_was_requested_ends_cancelled() {
    let control = control().await;
    control
        .add("lost-1", "org-1", "/files/resume.txt", once())
        .await;
    // Claimed by a worker that then stops answering.
    let stopped = control.bare_consumer("stopped-worker").await;
    let mut claimed = Vec::new();
    for _ in 0..50 {
        claimed = stopped
            .read_new(1, Duration::from_millis(100))
            .await
            .unwrap();
        if !claimed.is_empty() {
            break;
        }
    }
    assert_eq!(claimed.len(), 1, "the job was claimed");
    let outcome = control.queue.cancel("lost-1").await.unwrap();
    assert!(
        matches!(outcome, CancelOutcome::Requested(_)),
        "{outcome:?}"
    );

    let mut config = control.worker_config();
    config.visibility_timeout = Duration::from_millis(500);
    let worker = control.start_worker(config, None).await;
    let job = control.wait_state("lost-1", "cancelled").await;
    assert_eq!(job.attempts, 1, "it did not run again");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let history = control.history("lost-1").await;
    assert_ends_cancelled("lost-1", &history);
    assert_eq!(
        history.len(),
        1,
        "the taking worker published only the end: {history:?}"
    );
    stop(worker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_upload_keeps_its_file_and_can_run_again() {
    let control = control().await;
    let (gate, mut entered) = Gate::new(&[("up-1", Stage::Parsing)]);
    let worker = control
        .start_worker(control.worker_config(), Some(gate.stage_gate()))
        .await;
    control
        .add_upload("up-1", "org-1", crate::control::RESUME.as_bytes())
        .await;
    assert_eq!(next_held(&mut entered).await, "up-1");
    let outcome = control.queue.cancel("up-1").await.unwrap();
    assert!(
        matches!(outcome, CancelOutcome::Requested(_)),
        "{outcome:?}"
    );
    gate.release("up-1");
    control.wait_state("up-1", "cancelled").await;
    assert!(
        control.queue.load_file("up-1").await.unwrap().is_some(),
        "the upload stays for a retry"
    );

    let retried = control.queue.retry("up-1").await.unwrap();
    assert!(matches!(retried, RetryOutcome::Requeued(_)), "{retried:?}");
    assert_eq!(next_held(&mut entered).await, "up-1");
    gate.release("up-1");
    let job = control.wait_state("up-1", "completed").await;
    assert_eq!(job.result.unwrap()["document"]["source"], "upload");
    stop(worker).await;
}
