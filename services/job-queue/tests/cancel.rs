//! Cancelling jobs against a real redis-server: at once while they wait, by request while
//! they run, and exactly one outcome when a cancel races the job's end.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Barrier;

use common::{next_job, options, read_once, setup};
use job_queue::consumer::Delivery;
use job_queue::{CancelOutcome, FailOutcome, Finish, JobOptions, JobState, QueueCounts};
use serde_json::json;

#[tokio::test]
async fn a_waiting_job_is_cancelled_at_once_and_never_runs() {
    let s = setup().await;
    s.add("w1", Some("org-1")).await;
    let CancelOutcome::Cancelled(job) = s.queue.cancel("w1").await.unwrap() else {
        panic!("cancelled")
    };
    assert_eq!(job.state, JobState::Cancelled);
    assert!(job.finished_at.is_some());
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.waiting, counts.cancelled), (0, 1));
    let ttl = s.ttl("w1");
    assert!(
        ttl > 80_000,
        "expires after the default JOB_TTL (ttl {ttl})"
    );
    assert!(matches!(
        s.queue.cancel("w1").await.unwrap(),
        CancelOutcome::AlreadyCancelled(_)
    ));
    assert!(matches!(
        s.queue.cancel("nope").await.unwrap(),
        CancelOutcome::NotFound
    ));
    let consumer = s.consumer("w").await;
    assert!(read_once(&consumer, 100).await.is_empty(), "nothing runs");
    assert_eq!(s.stream_len(), 0);
    assert_eq!(s.queue.counts().await.unwrap().cancelled, 1, "counted once");
}

#[tokio::test]
async fn a_cancelled_job_expires_after_the_workers_job_ttl() {
    let s = setup().await;
    let _worker = s.consumer("w").await; // records JOB_TTL 3600 s
    s.add("w1", None).await;
    assert!(matches!(
        s.queue.cancel("w1").await.unwrap(),
        CancelOutcome::Cancelled(_)
    ));
    let ttl = s.ttl("w1");
    assert!((3000..=3600).contains(&ttl), "ttl {ttl}");
}

#[tokio::test]
async fn a_delayed_job_is_cancelled_and_not_promoted() {
    let s = setup().await;
    s.add_with(
        "later",
        None,
        JobOptions {
            delay: Duration::from_millis(100),
            ..JobOptions::default()
        },
    )
    .await;
    assert!(matches!(
        s.queue.cancel("later").await.unwrap(),
        CancelOutcome::Cancelled(_)
    ));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let consumer = s.consumer("w").await;
    assert_eq!(consumer.promote_due(10).await.unwrap(), 0);
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.delayed, counts.cancelled), (0, 1));
}

#[tokio::test]
async fn an_entry_left_in_the_stream_for_a_cancelled_job_is_skipped() {
    let s = setup().await;
    s.add("old", None).await;
    // A job added before its entry id was recorded: cancelling cannot remove its entry.
    s.cli(&["HDEL", &s.queue.keys().job("old"), "entryId"]);
    assert!(matches!(
        s.queue.cancel("old").await.unwrap(),
        CancelOutcome::Cancelled(_)
    ));
    assert_eq!(s.stream_len(), 1);
    let consumer = s.consumer("w").await;
    assert!(read_once(&consumer, 100).await.is_empty());
    assert_eq!(s.stream_len(), 0, "acknowledged and dropped");
    let record = s.queue.get("old").await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (JobState::Cancelled, 0));
}

#[tokio::test]
async fn a_running_job_is_asked_to_stop_and_ends_cancelled_instead_of_completed() {
    let s = setup().await;
    s.add("run", None).await;
    let consumer = s.consumer("w").await;
    let claimed = next_job(&consumer).await;
    assert!(!consumer.cancel_requested(&claimed).await.unwrap());
    let CancelOutcome::Requested(job) = s.queue.cancel("run").await.unwrap() else {
        panic!("requested")
    };
    assert!(job.cancel_requested);
    assert_eq!(job.state, JobState::Active);
    assert!(
        matches!(
            s.queue.cancel("run").await.unwrap(),
            CancelOutcome::Requested(_)
        ),
        "idempotent"
    );
    assert!(consumer.cancel_requested(&claimed).await.unwrap());
    assert_eq!(
        consumer
            .finish(&claimed, &json!({"score": 1}), None)
            .await
            .unwrap(),
        Finish::Cancelled
    );
    let record = s.queue.get("run").await.unwrap().unwrap();
    assert_eq!((record.state, record.result), (JobState::Cancelled, None));
    assert_eq!(
        s.queue.counts().await.unwrap(),
        QueueCounts {
            cancelled: 1,
            ..QueueCounts::default()
        }
    );
    assert!(matches!(
        s.queue.cancel("run").await.unwrap(),
        CancelOutcome::AlreadyCancelled(_)
    ));
    assert_eq!(s.stream_len(), 0);
}

#[tokio::test]
async fn a_worker_ends_its_running_job_as_cancelled_once() {
    let s = setup().await;
    s.add("stop", None).await;
    let consumer = s.consumer("w").await;
    let claimed = next_job(&consumer).await;
    s.queue.cancel("stop").await.unwrap();
    assert!(consumer.cancel_running(&claimed).await.unwrap());
    assert!(!consumer.cancel_running(&claimed).await.unwrap());
    assert!(
        !consumer.complete(&claimed, &json!({})).await.unwrap(),
        "no result after the cancel"
    );
    let counts = s.queue.counts().await.unwrap();
    assert_eq!(
        (counts.active, counts.cancelled, counts.completed),
        (0, 1, 0)
    );
    assert!(s.ttl("stop") > 3000);
}

#[tokio::test]
async fn a_finished_job_is_not_cancelled() {
    let s = setup().await;
    s.add("done", None).await;
    let consumer = s.consumer("w").await;
    let claimed = next_job(&consumer).await;
    assert!(consumer.complete(&claimed, &json!({})).await.unwrap());
    let CancelOutcome::Finished(job) = s.queue.cancel("done").await.unwrap() else {
        panic!("finished")
    };
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(s.queue.counts().await.unwrap().cancelled, 0);
}

#[tokio::test]
async fn a_failed_attempt_of_a_job_being_cancelled_ends_it_cancelled_not_retried() {
    let s = setup().await;
    s.add_with("flaky", None, options(3, 10)).await;
    let consumer = s.consumer("w").await;
    let claimed = next_job(&consumer).await;
    s.queue.cancel("flaky").await.unwrap();
    let outcome = consumer
        .fail(&claimed, "timeout", "fetch_timeout", false)
        .await
        .unwrap();
    assert_eq!(outcome, FailOutcome::Cancelled);
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.delayed, counts.failed, counts.cancelled), (0, 0, 1));
    let dead = s.cli(&["XLEN", &s.queue.keys().dead()]);
    assert_eq!(dead, "0", "not dead-lettered");
}

#[tokio::test]
async fn a_reclaimed_job_whose_cancel_was_requested_ends_cancelled() {
    let s = setup().await;
    s.add("orphan", None).await;
    let crashed = s
        .consumer_with("crashed", Duration::from_millis(50), None)
        .await;
    let _lost = next_job(&crashed).await;
    s.queue.cancel("orphan").await.unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    let rescuer = s
        .consumer_with("rescuer", Duration::from_millis(50), None)
        .await;
    let reclaimed = rescuer.reclaim(10).await.unwrap();
    let [Delivery::Cancelled(job)] = reclaimed.as_slice() else {
        panic!("cancelled: {reclaimed:?}")
    };
    assert_eq!(job.state, JobState::Cancelled);
    let counts = s.queue.counts().await.unwrap();
    assert_eq!((counts.active, counts.cancelled), (0, 1));
    assert!(
        rescuer.reclaim(10).await.unwrap().is_empty(),
        "acknowledged"
    );
}

/// A cancel and the job's completion, on separate clients at the same moment, 200 times:
/// each job ends exactly one way and the counts agree with the jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_racing_a_completion_gives_exactly_one_outcome() {
    let s = setup().await;
    let gateway = s.other_queue().await;
    let consumer = s.consumer("w").await;
    let rounds = 200;
    let (mut cancelled, mut completed) = (0, 0);
    for round in 0..rounds {
        let id = format!("race-{round}");
        s.add(&id, None).await;
        let claimed = next_job(&consumer).await;
        // Both start together on separate clients; which is sent first alternates.
        let start = Arc::new(Barrier::new(2));
        let cancel = {
            let (gateway, id, start) = (gateway.clone(), id.clone(), start.clone());
            async move {
                start.wait().await;
                if round % 2 == 0 {
                    tokio::task::yield_now().await;
                }
                gateway.cancel(&id).await.unwrap()
            }
        };
        let finish = {
            let (consumer, start) = (consumer.clone(), start.clone());
            async move {
                start.wait().await;
                if round % 2 == 1 {
                    tokio::task::yield_now().await;
                }
                consumer
                    .finish(&claimed, &json!({"ok": true}), None)
                    .await
                    .unwrap()
            }
        };
        let (cancel, finish) = (tokio::spawn(cancel), tokio::spawn(finish));
        let (cancel, finish) = (cancel.await.unwrap(), finish.await.unwrap());
        let state = s.queue.get(&id).await.unwrap().unwrap().state;
        match (&cancel, finish) {
            (CancelOutcome::Requested(_), Finish::Cancelled) => {
                assert_eq!(state, JobState::Cancelled);
                cancelled += 1;
            }
            (CancelOutcome::Finished(_), Finish::Completed) => {
                assert_eq!(state, JobState::Completed);
                completed += 1;
            }
            other => panic!("round {round}: two outcomes {other:?}"),
        }
    }
    assert_eq!(cancelled + completed, rounds);
    assert_eq!(
        s.queue.counts().await.unwrap(),
        QueueCounts {
            completed,
            cancelled,
            ..QueueCounts::default()
        }
    );
    assert!(
        cancelled > 0 && completed > 0,
        "both orders happened: {cancelled} cancelled, {completed} completed"
    );
}

/// Cancels racing workers that take jobs: a job is cancelled before it starts or while it
/// runs, never both, and the counts agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancels_racing_claims_give_exactly_one_outcome() {
    let s = setup().await;
    let gateway = s.other_queue().await;
    let consumer = s.consumer("w").await;
    let rounds = 200;
    for round in 0..rounds {
        s.add(&format!("c-{round}"), None).await;
    }
    let canceller = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        for round in 0..rounds {
            outcomes.push(gateway.cancel(&format!("c-{round}")).await.unwrap());
        }
        outcomes
    });
    let mut finishes = 0;
    loop {
        let delivered = read_once(&consumer, 200).await;
        let Some(delivery) = delivered.into_iter().next() else {
            break;
        };
        let Delivery::Run(claimed) = delivery else {
            panic!("run: {delivery:?}")
        };
        let finish = consumer.finish(&claimed, &json!({}), None).await.unwrap();
        assert_ne!(finish, Finish::Duplicate);
        finishes += 1;
    }
    let outcomes = canceller.await.unwrap();
    let counts = s.queue.counts().await.unwrap();
    let mut states = (0, 0);
    for round in 0..rounds {
        match s
            .queue
            .get(&format!("c-{round}"))
            .await
            .unwrap()
            .unwrap()
            .state
        {
            JobState::Cancelled => states.0 += 1,
            JobState::Completed => states.1 += 1,
            other => panic!("c-{round} ended {other:?}"),
        }
    }
    let at_once = outcomes
        .iter()
        .filter(|o| matches!(o, CancelOutcome::Cancelled(_)))
        .count() as u64;
    assert_eq!(at_once + finishes, rounds, "each job claimed or cancelled");
    assert_eq!((counts.cancelled, counts.completed), states);
    assert_eq!((counts.waiting, counts.active), (0, 0));
    assert_eq!(s.stream_len(), 0);
}
