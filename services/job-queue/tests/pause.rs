//! Pausing and resuming a queue, and its waiting jobs per organisation, against a real
//! redis-server.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::{next_job, read_once, setup};
use job_queue::JobState;
use serde_json::json;

#[tokio::test]
async fn a_paused_queue_starts_nothing_until_resumed() {
    let s = setup().await;
    assert!(!s.queue.is_paused().await.unwrap());
    s.queue.pause().await.unwrap();
    assert!(s.queue.is_paused().await.unwrap());
    s.add("held", Some("org-1")).await;
    let consumer = s.consumer("w").await;
    assert!(read_once(&consumer, 100).await.is_empty());
    assert_eq!(s.stream_len(), 0, "nothing fed");
    let counts = s.queue.counts().await.unwrap();
    assert!(counts.paused);
    assert_eq!(counts.waiting, 1);
    let update = counts.update("resume-analysis");
    assert!(update.paused);
    s.queue.resume().await.unwrap();
    assert_eq!(next_job(&consumer).await.job.job_id, "held");
    assert!(!s.queue.counts().await.unwrap().paused);
}

#[tokio::test]
async fn an_entry_fed_before_the_pause_is_put_back_not_run() {
    let s = setup().await;
    s.add("early", None).await;
    assert_eq!(s.stream_len(), 1, "fed at once");
    s.queue.pause().await.unwrap();
    let consumer = s.consumer("w").await;
    assert!(read_once(&consumer, 100).await.is_empty());
    assert_eq!(s.stream_len(), 0);
    let job = s.queue.get("early").await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Waiting, 0));
    assert_eq!(s.queue.counts().await.unwrap().waiting, 1);
    s.queue.resume().await.unwrap();
    let claimed = next_job(&consumer).await;
    assert_eq!((claimed.job.job_id.as_str(), claimed.attempt), ("early", 1));
}

#[tokio::test]
async fn a_running_job_finishes_while_paused() {
    let s = setup().await;
    s.add("busy", None).await;
    s.add("next", None).await;
    let consumer = s.consumer("w").await;
    let claimed = next_job(&consumer).await;
    s.queue.pause().await.unwrap();
    assert!(consumer.complete(&claimed, &json!({})).await.unwrap());
    assert!(
        read_once(&consumer, 100).await.is_empty(),
        "the next one waits"
    );
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.completed, counts.waiting), (1, 1));
}

#[tokio::test]
async fn waiting_jobs_are_counted_per_organisation() {
    let s = setup().await;
    for (id, org) in [
        ("a1", Some("org-a")),
        ("a2", Some("org-a")),
        ("a3", Some("org-a")),
        ("b1", Some("org-b")),
        ("n1", None),
        ("n2", None),
    ] {
        s.add(id, org).await;
    }
    assert_eq!(
        s.queue.waiting_by_organisation(2).await.unwrap(),
        vec![("org-a".to_owned(), 3), ("-".to_owned(), 2)]
    );
    assert!(s.queue.waiting_by_organisation(0).await.unwrap().is_empty());
    s.queue.cancel("b1").await.unwrap();
    s.queue.cancel("a1").await.unwrap();
    let consumer = s.consumer("w").await;
    let first = next_job(&consumer).await;
    assert_eq!(first.job.job_id, "a2");
    assert_eq!(
        s.queue.waiting_by_organisation(10).await.unwrap(),
        vec![("-".to_owned(), 2), ("org-a".to_owned(), 1)]
    );
}
