//! Sharing the workers between organisations and pausing the queue, with a real worker:
//! a small organisation's jobs are not stuck behind a large one's backlog, the waiting jobs
//! per organisation are reported with bounded labels, and a paused queue lets its running
//! job finish and starts nothing until resumed.

use std::time::Duration;

use job_queue::{JobOptions, JobState, ListFilter};
use progress_contract::events::Stage;

use crate::control::{Gate, control, control_on, next_held, stop};

fn once() -> JobOptions {
    JobOptions {
        attempts: 1,
        ..JobOptions::default()
    }
}

/// Completion times of an organisation's completed jobs, earliest first.
async fn finished_at(control: &crate::control::Control, organisation: &str) -> Vec<u64> {
    let filter = ListFilter {
        state: Some(JobState::Completed),
        organisation_id: Some(organisation.to_owned()),
    };
    let mut times = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = control
            .queue
            .list(&filter, cursor.as_deref(), 500)
            .await
            .unwrap();
        times.extend(page.jobs.iter().filter_map(|j| j.finished_at));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    times.sort_unstable();
    times
}

async fn metrics(port: u16) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn waiting_of(metrics: &str, queue: &str, organisation: &str) -> Option<f64> {
    let series = format!(
        "worker_waiting_jobs_by_organisation{{queue=\"{queue}\",organisation=\"{organisation}\"}}"
    );
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_organisation_is_not_stuck_behind_a_large_backlog() {
    const BACKLOG: usize = 2_000;
    let control = control_on("fair-share").await;
    for i in 0..BACKLOG {
        control
            .add(&format!("a-{i:04}"), "org-a", "/files/resume.txt", once())
            .await;
    }
    for i in 0..10 {
        control
            .add(&format!("b-{i}"), "org-b", "/files/resume.txt", once())
            .await;
    }
    // Paused while the worker starts, so the waiting jobs hold still for the scrape.
    control.queue.pause().await.unwrap();
    let mut config = control.worker_config();
    config.concurrency = 4;
    let (worker, admin) = control.start_worker_with_admin(config, None).await;
    let scraped = metrics(admin).await;
    let waiting = |organisation| waiting_of(&scraped, "fair-share", organisation);
    assert_eq!(waiting("org-a"), Some(2_000.0), "{scraped}");
    assert_eq!(waiting("org-b"), Some(10.0));
    assert_eq!(
        waiting("other"),
        Some(0.0),
        "two organisations: nothing else"
    );
    control.queue.resume().await.unwrap();

    for i in 0..10 {
        control.wait_state(&format!("b-{i}"), "completed").await;
    }
    let b_done = finished_at(&control, "org-b").await;
    assert_eq!(b_done.len(), 10);
    let b_last = *b_done.last().unwrap();
    let a_done = finished_at(&control, "org-a").await;
    eprintln!(
        "fair share: org-b's 10 jobs done when org-a had {} of {BACKLOG} done",
        a_done.iter().filter(|t| **t <= b_last).count()
    );
    if let Some(a_200th) = a_done.get(199) {
        assert!(
            b_last < *a_200th,
            "org-b finished at {b_last}, org-a's 200th at {a_200th}"
        );
    }
    stop(worker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_queue_finishes_its_running_job_and_starts_nothing_until_resumed() {
    let control = control().await;
    let (gate, mut entered) = Gate::new(&[("p-running", Stage::Analyzing)]);
    let worker = control
        .start_worker(control.worker_config(), Some(gate.stage_gate()))
        .await;
    control
        .add("p-running", "org-1", "/files/resume.txt", once())
        .await;
    assert_eq!(next_held(&mut entered).await, "p-running");

    control.queue.pause().await.unwrap();
    assert!(control.queue.is_paused().await.unwrap());
    control
        .add("p-next", "org-1", "/files/resume.txt", once())
        .await;
    gate.release("p-running");
    control.wait_state("p-running", "completed").await;
    // Long enough for an idle worker to take a job many times over.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let next = control.job("p-next").await;
    assert_eq!(next.state, JobState::Waiting, "{next:?}");
    assert_eq!(next.attempts, 0);
    let counts = control.queue.counts().await.unwrap();
    assert!(counts.paused, "{counts:?}");

    control.queue.resume().await.unwrap();
    assert!(!control.queue.is_paused().await.unwrap());
    control.wait_state("p-next", "completed").await;
    stop(worker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisation_concurrency_caps_one_organisation_not_the_others() {
    let control = control().await;
    let (gate, mut entered) = Gate::new(&[("x-1", Stage::Analyzing)]);
    let mut config = control.worker_config();
    config.concurrency = 4;
    config.organisation_concurrency = 1;
    let worker = control.start_worker(config, Some(gate.stage_gate())).await;
    control
        .add("x-1", "org-x", "/files/resume.txt", once())
        .await;
    assert_eq!(next_held(&mut entered).await, "x-1");
    control
        .add("x-2", "org-x", "/files/resume.txt", once())
        .await;
    control
        .add("y-1", "org-y", "/files/resume.txt", once())
        .await;

    // Free slots take org-y's job; org-x's second waits for its first.
    control.wait_state("y-1", "completed").await;
    let second = control.job("x-2").await;
    assert_eq!(
        (second.state, second.attempts),
        (JobState::Waiting, 0),
        "x-2 must not start while org-x's first job runs"
    );
    gate.release("x-1");
    control.wait_state("x-1", "completed").await;
    control.wait_state("x-2", "completed").await;
    stop(worker).await;
}
