//! The queue against a real redis-server: idempotent add, delays, retries with backoff,
//! dead-lettering, reclaiming from a stopped worker, one result per job, counts.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::time::Duration;

mod common;

use common::{next_job, options, setup};
use job_queue::consumer::Delivery;
use job_queue::{FailOutcome, JobOptions, JobState, NewJob, QueueCounts};
use serde_json::json;

/// The jobs of these tests belong to one organisation.
fn job() -> NewJob {
    common::job(Some("org-1"))
}

fn counts(waiting: u64, active: u64, completed: u64, failed: u64, delayed: u64) -> QueueCounts {
    QueueCounts {
        waiting,
        active,
        completed,
        failed,
        delayed,
        ..QueueCounts::default()
    }
}

#[tokio::test]
async fn adding_the_same_id_twice_enqueues_once() {
    let s = setup().await;
    let first = s
        .queue
        .add("job-1", &job(), &JobOptions::default())
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.state, JobState::Waiting);
    let again = s
        .queue
        .add("job-1", &job(), &JobOptions::default())
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.state, JobState::Waiting);
    assert_eq!(s.stream_len(), 1);
    assert_eq!(s.queue.counts().await.unwrap(), counts(1, 0, 0, 0, 0));
    let record = s.queue.get("job-1").await.unwrap().unwrap();
    assert_eq!(record.max_attempts, 3);
    assert_eq!(record.organisation_id.as_deref(), Some("org-1"));
    assert_eq!(record.data["resumeId"], "r1");
    assert!(s.queue.get("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn a_job_runs_and_its_result_is_stored_once() {
    let s = setup().await;
    s.queue
        .add("job-1", &job(), &JobOptions::default())
        .await
        .unwrap();
    let consumer = s.consumer_with("w1", Duration::from_secs(30), None).await;
    let claimed = next_job(&consumer).await;
    assert_eq!(claimed.attempt, 1);
    assert_eq!(claimed.job.state, JobState::Active);
    assert_eq!(s.queue.counts().await.unwrap(), counts(0, 1, 0, 0, 0));
    assert!(
        consumer
            .complete(&claimed, &json!({"score": 1}))
            .await
            .unwrap()
    );
    assert!(
        !consumer
            .complete(&claimed, &json!({"score": 2}))
            .await
            .unwrap(),
        "second result ignored"
    );
    let record = s.queue.get("job-1").await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Completed);
    assert_eq!(record.result, Some(json!({"score": 1})));
    assert_eq!(record.progress, 100);
    assert_eq!(s.queue.counts().await.unwrap(), counts(0, 0, 1, 0, 0));
    let ttl: i64 = s
        .redis
        .cli(&["TTL", &s.queue.keys().job("job-1")])
        .parse()
        .unwrap();
    assert!(ttl > 3000, "finished jobs expire (ttl {ttl})");
    assert_eq!(s.stream_len(), 0, "acknowledged entries are removed");
}

#[tokio::test]
async fn failures_retry_with_exponential_backoff_then_dead_letter() {
    let s = setup().await;
    s.queue
        .add("flaky", &job(), &options(3, 100))
        .await
        .unwrap();
    let consumer = s.consumer_with("w1", Duration::from_secs(30), None).await;

    let first = next_job(&consumer).await;
    let outcome = consumer
        .fail(&first, "timeout", "fetch_timeout", false)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        FailOutcome::Retry {
            attempt: 1,
            delay: Duration::from_millis(100)
        }
    );
    assert_eq!(s.queue.counts().await.unwrap(), counts(0, 0, 0, 0, 1));
    let record = s.queue.get("flaky").await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Delayed);
    assert_eq!(record.error.as_deref(), Some("timeout"));

    // Not due yet: nothing moves.
    assert_eq!(consumer.promote_due(10).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(consumer.promote_due(10).await.unwrap(), 1);
    let second = next_job(&consumer).await;
    assert_eq!(second.attempt, 2);
    let outcome = consumer
        .fail(&second, "timeout", "fetch_timeout", false)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        FailOutcome::Retry {
            attempt: 2,
            delay: Duration::from_millis(200)
        }
    );

    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        consumer.promote_due(10).await.unwrap(),
        0,
        "second backoff is twice the first"
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(consumer.promote_due(10).await.unwrap(), 1);
    let third = next_job(&consumer).await;
    assert_eq!(third.attempt, 3);
    let outcome = consumer
        .fail(&third, "still broken", "fetch_timeout", false)
        .await
        .unwrap();
    assert_eq!(outcome, FailOutcome::Dead { attempts: 3 });

    let record = s.queue.get("flaky").await.unwrap().unwrap();
    assert_eq!(record.state, JobState::Failed);
    assert_eq!(record.error.as_deref(), Some("still broken"));
    assert_eq!(s.queue.counts().await.unwrap(), counts(0, 0, 0, 1, 0));
    let dead = s.redis.cli(&["XRANGE", &s.queue.keys().dead(), "-", "+"]);
    assert!(
        dead.contains("flaky") && dead.contains("still broken"),
        "dead letter: {dead}"
    );
}

#[tokio::test]
async fn permanent_failures_are_not_retried() {
    let s = setup().await;
    s.queue
        .add("corrupt", &job(), &options(5, 10))
        .await
        .unwrap();
    let consumer = s.consumer_with("w1", Duration::from_secs(30), None).await;
    let claimed = next_job(&consumer).await;
    let outcome = consumer
        .fail(&claimed, "the PDF is corrupt", "corrupt", true)
        .await
        .unwrap();
    assert_eq!(outcome, FailOutcome::Dead { attempts: 1 });
    let record = s.queue.get("corrupt").await.unwrap().unwrap();
    assert_eq!(record.error_code.as_deref(), Some("corrupt"));
    let dead = s.redis.cli(&["XRANGE", &s.queue.keys().dead(), "-", "+"]);
    assert!(dead.contains("corrupt"), "dead letter: {dead}");
    assert_eq!(s.queue.counts().await.unwrap(), counts(0, 0, 0, 1, 0));
}

#[tokio::test]
async fn a_stopped_workers_job_is_reclaimed_and_stored_once() {
    let s = setup().await;
    s.queue
        .add("orphan", &job(), &JobOptions::default())
        .await
        .unwrap();
    let crashed = s
        .consumer_with("crashed", Duration::from_millis(600), None)
        .await;
    let rescuer = s
        .consumer_with("rescuer", Duration::from_millis(600), None)
        .await;
    let abandoned = next_job(&crashed).await;

    assert!(
        rescuer.reclaim(10).await.unwrap().is_empty(),
        "not idle long enough yet"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut reclaimed = rescuer.reclaim(10).await.unwrap();
    let Some(Delivery::Run(taken)) = reclaimed.pop() else {
        panic!("reclaimed")
    };
    assert_eq!(taken.job.job_id, "orphan");
    assert_eq!(taken.attempt, 2);
    assert_eq!(
        s.queue.counts().await.unwrap(),
        counts(0, 1, 0, 0, 0),
        "still one active job"
    );

    assert!(
        rescuer
            .complete(&taken, &json!({"by": "rescuer"}))
            .await
            .unwrap()
    );
    // The first worker wakes up and finishes too: its result is not stored.
    assert!(
        !crashed
            .complete(&abandoned, &json!({"by": "crashed"}))
            .await
            .unwrap()
    );
    let record = s.queue.get("orphan").await.unwrap().unwrap();
    assert_eq!(record.result, Some(json!({"by": "rescuer"})));
    assert_eq!(s.queue.counts().await.unwrap(), counts(0, 0, 1, 0, 0));
}

#[tokio::test]
async fn keep_alive_prevents_reclaiming_a_long_job() {
    let s = setup().await;
    s.queue
        .add("long", &job(), &JobOptions::default())
        .await
        .unwrap();
    let worker = s
        .consumer_with("busy", Duration::from_millis(1000), None)
        .await;
    let other = s
        .consumer_with("other", Duration::from_millis(1000), None)
        .await;
    let claimed = next_job(&worker).await;
    // 6 × 250 ms: longer than the visibility timeout, alive all along.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        worker.keep_alive(&claimed).await.unwrap();
        assert!(other.reclaim(10).await.unwrap().is_empty());
    }
    assert!(worker.complete(&claimed, &json!({})).await.unwrap());
}

#[tokio::test]
async fn a_job_abandoned_on_every_attempt_is_dead_lettered() {
    let s = setup().await;
    s.queue
        .add("cursed", &job(), &options(2, 10))
        .await
        .unwrap();
    let a = s.consumer_with("a", Duration::from_millis(50), None).await;
    let _first = next_job(&a).await;
    tokio::time::sleep(Duration::from_millis(80)).await;
    let second = a.reclaim(10).await.unwrap();
    assert!(matches!(second.as_slice(), [Delivery::Run(c)] if c.attempt == 2));
    tokio::time::sleep(Duration::from_millis(80)).await;
    let third = a.reclaim(10).await.unwrap();
    let [Delivery::Abandoned(record)] = third.as_slice() else {
        panic!("abandoned: {third:?}")
    };
    assert_eq!(record.state, JobState::Failed);
    assert_eq!(record.error_code.as_deref(), Some("worker_lost"));
    assert_eq!(record.reclaims, 2);
    assert_eq!(s.queue.counts().await.unwrap(), counts(0, 0, 0, 1, 0));
    let dead = s.redis.cli(&["XRANGE", &s.queue.keys().dead(), "-", "+"]);
    assert!(
        dead.contains("cursed") && dead.contains("worker_lost"),
        "dead letter: {dead}"
    );
}

#[tokio::test]
async fn a_takeover_does_not_use_up_an_attempt() {
    let s = setup().await;
    s.queue
        .add("shared", &job(), &options(2, 10))
        .await
        .unwrap();
    // The job ran on a worker that stopped (with other jobs): it is taken over once...
    let a = s.consumer_with("a", Duration::from_millis(50), None).await;
    let _lost = next_job(&a).await;
    tokio::time::sleep(Duration::from_millis(80)).await;
    let taken = match a.reclaim(10).await.unwrap().pop() {
        Some(Delivery::Run(taken)) => taken,
        other => panic!("taken over: {other:?}"),
    };
    assert_eq!(taken.attempt, 2);
    // ...and its first real failure still leaves it its second attempt.
    let outcome = a
        .fail(&taken, "the file server timed out", "fetch_timeout", false)
        .await
        .unwrap();
    assert!(matches!(outcome, FailOutcome::Retry { .. }), "{outcome:?}");
    let record = s.queue.get("shared").await.unwrap().unwrap();
    assert_eq!((record.attempts, record.reclaims), (2, 1));
}

#[tokio::test]
async fn delayed_jobs_wait_for_their_time() {
    let s = setup().await;
    let added = s
        .queue
        .add(
            "later",
            &job(),
            &JobOptions {
                delay: Duration::from_millis(200),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(added.state, JobState::Delayed);
    let consumer = s.consumer_with("w", Duration::from_secs(30), None).await;
    assert!(
        consumer
            .read_new(1, Duration::from_millis(50))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.queue.counts().await.unwrap(), counts(0, 0, 0, 0, 1));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(consumer.promote_due(10).await.unwrap(), 1);
    assert_eq!(next_job(&consumer).await.job.job_id, "later");
}

#[tokio::test]
async fn the_queue_survives_a_redis_restart() {
    let mut s = setup().await;
    let consumer = s.consumer_with("w", Duration::from_secs(30), None).await;
    s.redis.restart();
    // Scripts and the consumer group are gone with the data; both come back by themselves.
    let mut added = None;
    for _ in 0..100 {
        match s.queue.add("after", &job(), &JobOptions::default()).await {
            Ok(outcome) => {
                added = Some(outcome);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(added.expect("add works after the restart").created);
    let mut claimed = None;
    for _ in 0..100 {
        if let Ok(mut delivered) = consumer.read_new(1, Duration::from_millis(100)).await {
            if let Some(Delivery::Run(c)) = delivered.pop() {
                claimed = Some(c);
                break;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(claimed.expect("job delivered").job.job_id, "after");
}
