//! Organisations take turns against a real redis-server: a small organisation is not stuck
//! behind a large one, priority orders one organisation's jobs, the per-organisation cap, and
//! entries from before turns existed still run.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::{Setup, next_job, read_once, setup};
use job_queue::consumer::Delivery;
use job_queue::{JobOptions, QueueCounts};
use serde_json::json;

/// The bookkeeping of turns is empty once no job waits or runs.
fn assert_schedule_empty(s: &Setup) {
    let keys = s.queue.keys();
    assert_eq!(s.cli(&["SCARD", &keys.fed()]), "0", "fed");
    assert_eq!(s.cli(&["LLEN", &keys.ring()]), "0", "ring");
    assert_eq!(s.cli(&["HLEN", &keys.running()]), "0", "running");
    assert_eq!(s.cli(&["ZCARD", &keys.organisations()]), "0", "orgs");
}

#[tokio::test]
async fn a_small_organisation_is_not_stuck_behind_a_large_one() {
    let s = setup().await;
    for i in 0..2000 {
        s.add(&format!("a-{i}"), Some("org-a")).await;
    }
    for i in 0..10 {
        s.add(&format!("b-{i}"), Some("org-b")).await;
    }
    assert!(s.stream_len() <= 16, "only a small window is fed");
    assert_eq!(
        s.queue.waiting_by_organisation(5).await.unwrap(),
        vec![("org-a".to_owned(), 2000), ("org-b".to_owned(), 10)]
    );
    let consumer = s.consumer("w").await;
    let mut order = Vec::new();
    while order
        .iter()
        .filter(|id: &&String| id.starts_with("b-"))
        .count()
        < 10
    {
        let claimed = next_job(&consumer).await;
        assert!(consumer.complete(&claimed, &json!({})).await.unwrap());
        order.push(claimed.job.job_id);
    }
    let a_before = order.iter().filter(|id| id.starts_with("a-")).count();
    assert!(
        a_before < 199,
        "B's 10 completed before A's 200th ({a_before} of A's first): {order:?}"
    );
    // Each organisation's own jobs keep their order.
    let b: Vec<_> = order.iter().filter(|id| id.starts_with("b-")).collect();
    let expected: Vec<_> = (0..10).map(|i| format!("b-{i}")).collect();
    assert_eq!(b, expected.iter().collect::<Vec<_>>());
    let a: Vec<_> = order.iter().filter(|id| id.starts_with("a-")).collect();
    let expected: Vec<_> = (0..a.len()).map(|i| format!("a-{i}")).collect();
    assert_eq!(a, expected.iter().collect::<Vec<_>>());
    let counts = s.queue.counts().await.unwrap();
    assert_eq!(
        (counts.waiting, counts.completed),
        (2010 - order.len() as u64, order.len() as u64)
    );
}

#[tokio::test]
async fn priority_orders_the_jobs_of_one_organisation() {
    let s = setup().await;
    s.queue.pause().await.unwrap();
    for (id, priority) in [("p5", 5), ("p0", 0), ("p9", 9), ("q0", 0), ("p1000", 5000)] {
        let options = JobOptions {
            priority,
            ..JobOptions::default()
        };
        s.add_with(id, Some("org-1"), options).await;
    }
    assert_eq!(
        s.queue.get("p1000").await.unwrap().unwrap().priority,
        1000,
        "bounded"
    );
    s.queue.resume().await.unwrap();
    let consumer = s.consumer("w").await;
    let mut order = Vec::new();
    for _ in 0..5 {
        let claimed = next_job(&consumer).await;
        consumer.complete(&claimed, &json!({})).await.unwrap();
        order.push(claimed.job.job_id);
    }
    assert_eq!(order, ["p0", "q0", "p5", "p9", "p1000"]);
    assert_schedule_empty(&s);
}

#[tokio::test]
async fn an_organisation_at_its_cap_waits_while_others_run() {
    let s = setup().await;
    let consumer = s
        .consumer_with("w", std::time::Duration::from_secs(30), Some(2))
        .await;
    for i in 0..5 {
        s.add(&format!("a-{i}"), Some("org-a")).await;
    }
    for i in 0..5 {
        s.add(&format!("b-{i}"), Some("org-b")).await;
    }
    let mut running = Vec::new();
    for _ in 0..4 {
        running.push(next_job(&consumer).await);
    }
    let mut ids: Vec<_> = running.iter().map(|c| c.job.job_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["a-0", "a-1", "b-0", "b-1"]);
    assert!(
        read_once(&consumer, 100).await.is_empty(),
        "both at the cap"
    );
    let a0 = running.iter().find(|c| c.job.job_id == "a-0").unwrap();
    assert!(consumer.complete(a0, &json!({})).await.unwrap());
    assert_eq!(next_job(&consumer).await.job.job_id, "a-2");
    assert!(read_once(&consumer, 100).await.is_empty());
}

#[tokio::test]
async fn an_entry_from_before_organisations_took_turns_still_runs() {
    let s = setup().await;
    let consumer = s.consumer("w").await;
    // A job added by the previous version: its entry went straight into the stream.
    let job = s.queue.keys().job("legacy");
    s.cli(&[
        "HSET",
        &job,
        "id",
        "legacy",
        "name",
        "analyze-resume",
        "status",
        "waiting",
        "data",
        "{}",
        "attempts",
        "0",
        "maxAttempts",
        "3",
        "organisationId",
        "org-1",
    ]);
    s.cli(&["XADD", &s.queue.keys().stream(), "*", "jobId", "legacy"]);
    s.cli(&["HINCRBY", &s.queue.keys().counts(), "waiting", "1"]);
    s.add("new", Some("org-1")).await;
    let mut done = Vec::new();
    for _ in 0..2 {
        let claimed = next_job(&consumer).await;
        assert!(consumer.complete(&claimed, &json!({})).await.unwrap());
        done.push(claimed.job.job_id);
    }
    assert_eq!(done, ["legacy", "new"]);
    assert_eq!(
        s.queue.counts().await.unwrap(),
        QueueCounts {
            completed: 2,
            ..QueueCounts::default()
        }
    );
    assert_schedule_empty(&s);
}

#[tokio::test]
async fn retries_cancels_and_takeovers_keep_the_bookkeeping_exact() {
    let s = setup().await;
    let consumer = s
        .consumer_with("w", std::time::Duration::from_millis(50), Some(3))
        .await;
    for i in 0..6 {
        s.add_with(&format!("j-{i}"), Some("org-1"), common::options(2, 10))
            .await;
    }
    s.add("other", None).await;
    s.queue.cancel("j-5").await.unwrap();
    let first = next_job(&consumer).await;
    consumer.fail(&first, "flaky", "x", false).await.unwrap();
    let _lost = next_job(&consumer).await;
    tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    for delivery in consumer.reclaim(10).await.unwrap() {
        let Delivery::Run(claimed) = delivery else {
            panic!("run")
        };
        consumer.complete(&claimed, &json!({})).await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    consumer.promote_due(10).await.unwrap();
    loop {
        let delivered = read_once(&consumer, 100).await;
        let Some(Delivery::Run(claimed)) = delivered.into_iter().next() else {
            break;
        };
        consumer.complete(&claimed, &json!({})).await.unwrap();
    }
    let counts = s.queue.counts().await.unwrap();
    assert_eq!(
        (
            counts.completed,
            counts.cancelled,
            counts.waiting,
            counts.active,
            counts.delayed
        ),
        (6, 1, 0, 0, 0)
    );
    assert_schedule_empty(&s);
}

#[tokio::test]
async fn a_window_filled_by_jobs_claimed_elsewhere_is_repaired() {
    let s = setup().await;
    let consumer = s.consumer("w").await;
    // Fed ids the previous version's workers claimed without clearing them, and one whose
    // entry was lost: the window looks full.
    for i in 0..15 {
        s.cli(&["SADD", &s.queue.keys().fed(), &format!("gone-{i}")]);
    }
    s.add("lost", Some("org-1")).await;
    let entry = s.cli(&["HGET", &s.queue.keys().job("lost"), "entryId"]);
    s.cli(&["XDEL", &s.queue.keys().stream(), &entry]);
    s.add("next", Some("org-1")).await;
    assert!(read_once(&consumer, 50).await.is_empty(), "nothing fed");
    consumer.promote_due(10).await.unwrap();
    let mut done = Vec::new();
    for _ in 0..2 {
        let claimed = next_job(&consumer).await;
        assert!(consumer.complete(&claimed, &json!({})).await.unwrap());
        done.push(claimed.job.job_id);
    }
    assert_eq!(done, ["lost", "next"], "the lost one keeps its place");
    assert_schedule_empty(&s);
}
