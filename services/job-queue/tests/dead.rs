//! Dead letters against a real redis-server: paging newest first, running a failed or
//! cancelled job again, deleting one.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::time::Duration;

use common::{Setup, next_job, setup};
use job_queue::{QueueCounts, QueueError, RetryOutcome};
use serde_json::json;

/// Adds `job_id` and fails its one attempt for good.
async fn dead(s: &Setup, job_id: &str, organisation: Option<&str>) {
    s.add(job_id, organisation).await;
    let consumer = s.consumer("w").await;
    let claimed = next_job(&consumer).await;
    assert_eq!(claimed.job.job_id, job_id);
    consumer
        .fail(&claimed, &format!("{job_id} is corrupt"), "corrupt", true)
        .await
        .unwrap();
}

#[tokio::test]
async fn dead_letters_page_newest_first() {
    let s = setup().await;
    for i in 0..5 {
        dead(&s, &format!("d{i}"), (i % 2 == 0).then_some("org-1")).await;
    }
    let first = s.queue.dead_letters(None, 2).await.unwrap();
    let ids: Vec<_> = first.jobs.iter().map(|d| d.job_id.as_str()).collect();
    assert_eq!(ids, ["d4", "d3"]);
    let letter = &first.jobs[0];
    assert_eq!(letter.name, "analyze-resume");
    assert_eq!(letter.error, "d4 is corrupt");
    assert_eq!(letter.code, "corrupt");
    assert_eq!(letter.attempts, 1);
    assert_eq!(letter.organisation_id.as_deref(), Some("org-1"));
    assert_eq!(first.jobs[1].organisation_id, None);
    assert!(letter.failed_at > 1_600_000_000_000);
    let second = s
        .queue
        .dead_letters(first.next_cursor.as_deref(), 2)
        .await
        .unwrap();
    let ids: Vec<_> = second.jobs.iter().map(|d| d.job_id.as_str()).collect();
    assert_eq!(ids, ["d2", "d1"]);
    let last = s
        .queue
        .dead_letters(second.next_cursor.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(last.jobs.len(), 1);
    assert_eq!(last.next_cursor, None);
    assert!(matches!(
        s.queue.dead_letters(Some("not-a-cursor"), 2).await,
        Err(QueueError::BadCursor)
    ));
}

#[tokio::test]
async fn a_dead_letter_runs_again_from_its_first_attempt() {
    let s = setup().await;
    dead(&s, "again", Some("org-1")).await;
    let RetryOutcome::Requeued(job) = s.queue.retry("again").await.unwrap() else {
        panic!("requeued")
    };
    assert_eq!(
        (job.attempts, job.reclaims, job.error.as_ref()),
        (0, 0, None)
    );
    assert_eq!(job.organisation_id.as_deref(), Some("org-1"));
    assert_eq!(s.ttl("again"), -1, "no longer expires");
    assert!(
        s.queue
            .dead_letters(None, 10)
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    assert_eq!(
        s.queue.counts().await.unwrap(),
        QueueCounts {
            waiting: 1,
            ..QueueCounts::default()
        }
    );
    let consumer = s.consumer("w").await;
    let claimed = next_job(&consumer).await;
    assert_eq!(claimed.attempt, 1);
    assert!(consumer.complete(&claimed, &json!({})).await.unwrap());
    assert_eq!(
        s.queue.counts().await.unwrap(),
        QueueCounts {
            completed: 1,
            ..QueueCounts::default()
        }
    );
    assert!(matches!(
        s.queue.retry("again").await.unwrap(),
        RetryOutcome::NotRetryable(_)
    ));
    assert!(matches!(
        s.queue.retry("nope").await.unwrap(),
        RetryOutcome::NotFound
    ));
}

#[tokio::test]
async fn a_cancelled_job_runs_again() {
    let s = setup().await;
    s.add("changed-mind", None).await;
    s.queue.cancel("changed-mind").await.unwrap();
    assert!(matches!(
        s.queue.retry("changed-mind").await.unwrap(),
        RetryOutcome::Requeued(_)
    ));
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.waiting, counts.cancelled), (1, 0));
    let consumer = s.consumer("w").await;
    assert_eq!(next_job(&consumer).await.job.job_id, "changed-mind");
}

#[tokio::test]
async fn a_job_whose_upload_is_gone_is_not_run_again() {
    let s = setup().await;
    let mut job = common::job(None);
    job.data = json!({"resumeId": "r1", "uploaded": true});
    for id in ["kept", "gone"] {
        s.queue
            .store_file(id, b"%PDF".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        s.queue
            .add(id, &job, &common::options(1, 10))
            .await
            .unwrap();
        let consumer = s.consumer("w").await;
        let claimed = next_job(&consumer).await;
        consumer
            .fail(&claimed, "unreadable", "corrupt", true)
            .await
            .unwrap();
    }
    s.queue.delete_file("gone").await.unwrap();
    assert!(matches!(
        s.queue.retry("gone").await.unwrap(),
        RetryOutcome::FileGone(_)
    ));
    assert_eq!(s.queue.dead_letters(None, 10).await.unwrap().jobs.len(), 2);
    assert!(matches!(
        s.queue.retry("kept").await.unwrap(),
        RetryOutcome::Requeued(_)
    ));
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.waiting, counts.failed), (1, 1));
}

#[tokio::test]
async fn a_dead_letter_is_deleted_with_its_record() {
    let s = setup().await;
    dead(&s, "bin", None).await;
    s.add("alive", None).await;
    assert!(!s.queue.delete_dead("alive").await.unwrap());
    assert!(!s.queue.delete_dead("nope").await.unwrap());
    assert!(s.queue.delete_dead("bin").await.unwrap());
    assert!(s.queue.get("bin").await.unwrap().is_none());
    assert!(
        s.queue
            .dead_letters(None, 10)
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    assert!(!s.queue.delete_dead("bin").await.unwrap());
}

#[tokio::test]
async fn a_dead_letter_from_before_entries_were_recorded_is_found_by_job_id() {
    let s = setup().await;
    dead(&s, "older", None).await;
    dead(&s, "old", None).await;
    for id in ["older", "old"] {
        s.cli(&["HDEL", &s.queue.keys().job(id), "deadId"]);
    }
    assert!(matches!(
        s.queue.retry("older").await.unwrap(),
        RetryOutcome::Requeued(_)
    ));
    let left = s.queue.dead_letters(None, 10).await.unwrap().jobs;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].job_id, "old");
    // Expired: only the entry is left, and it is deleted by job id.
    s.cli(&["DEL", &s.queue.keys().job("old")]);
    assert!(s.queue.delete_dead("old").await.unwrap());
    assert!(
        s.queue
            .dead_letters(None, 10)
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
}
