//! Listing jobs against a real redis-server: paging without gaps or repeats, the state and
//! organisation filters, expired jobs leaving the indexes, and cursors it did not make.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::HashSet;
use std::time::Duration;

use job_queue::{JobOptions, JobState, ListFilter, NewJob, Queue, QueueError};
use serde_json::json;
use service_runtime::redis::RedisOptions;
use test_support::RedisServer;

async fn setup() -> (RedisServer, Queue) {
    let redis = RedisServer::start();
    let client = RedisOptions::new(redis.url())
        .connect_client()
        .await
        .unwrap();
    (redis, Queue::new(client, "resume-analysis"))
}

fn job(organisation: Option<&str>) -> NewJob {
    NewJob {
        name: "analyze-resume".into(),
        data: json!({"resumeId": "r1"}),
        organisation_id: organisation.map(str::to_owned),
        traceparent: None,
    }
}

async fn add(queue: &Queue, id: &str, organisation: Option<&str>, delay_ms: u64) {
    let options = JobOptions {
        delay: Duration::from_millis(delay_ms),
        ..JobOptions::default()
    };
    queue.add(id, &job(organisation), &options).await.unwrap();
}

/// Every page of a listing, in order.
async fn all_pages(queue: &Queue, filter: &ListFilter, limit: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = queue.list(filter, cursor.as_deref(), limit).await.unwrap();
        assert!(page.jobs.len() <= limit);
        pages.push(page.jobs.iter().map(|j| j.job_id.clone()).collect());
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
        assert!(pages.len() < 10_000, "the listing does not end");
    }
}

#[tokio::test]
async fn pages_cover_every_job_once_newest_first() {
    let (_redis, queue) = setup().await;
    // Many jobs share a millisecond: ties in the index must not lose or repeat jobs.
    for i in 0..457 {
        add(&queue, &format!("job-{i:04}"), Some("org-1"), 0).await;
    }
    let pages = all_pages(&queue, &ListFilter::default(), 20).await;
    let ids: Vec<String> = pages.concat();
    assert_eq!(ids.len(), 457, "no repeats");
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 457, "no gaps");
    assert_eq!(pages.len(), 23, "full pages, then the rest");

    let mut cursor = None;
    let mut created = Vec::new();
    loop {
        let page = queue
            .list(&ListFilter::default(), cursor.as_deref(), 50)
            .await
            .unwrap();
        created.extend(page.jobs.iter().map(|j| j.created_at));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert_eq!(ids.last().unwrap(), "job-0000", "the oldest comes last");
}

#[tokio::test]
async fn the_state_filter_returns_only_that_state_with_bounded_work() {
    let (_redis, queue) = setup().await;
    add(&queue, "later-1", None, 60_000).await;
    for i in 0..1_100 {
        add(&queue, &format!("now-{i}"), None, 0).await;
    }
    add(&queue, "later-2", None, 60_000).await;

    let delayed = ListFilter {
        state: Some(JobState::Delayed),
        organisation_id: None,
    };
    let first = queue.list(&delayed, None, 10).await.unwrap();
    let ids: Vec<&str> = first.jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(
        ids,
        ["later-2"],
        "one call reads a bounded part of the index"
    );
    assert!(first.jobs.iter().all(|j| j.state == JobState::Delayed));
    let cursor = first
        .next_cursor
        .expect("a short page still says where to go on");
    let second = queue.list(&delayed, Some(&cursor), 10).await.unwrap();
    let ids: Vec<&str> = second.jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids, ["later-1"]);
    assert_eq!(second.next_cursor, None);

    let waiting = ListFilter {
        state: Some(JobState::Waiting),
        organisation_id: None,
    };
    let pages = all_pages(&queue, &waiting, 100).await;
    assert_eq!(pages.concat().len(), 1_100);
}

#[tokio::test]
async fn an_organisation_listing_reads_only_that_organisation() {
    let (redis, queue) = setup().await;
    add(&queue, "b-old", Some("org-b"), 60_000).await;
    // More of another organisation's jobs than one call would read of a shared index.
    for i in 0..1_200 {
        add(&queue, &format!("a-{i}"), Some("org-a"), 0).await;
    }
    add(&queue, "b-new", Some("org-b"), 0).await;
    add(&queue, "nobody", None, 0).await;

    let org_b = ListFilter {
        state: None,
        organisation_id: Some("org-b".into()),
    };
    let page = queue.list(&org_b, None, 10).await.unwrap();
    let ids: Vec<&str> = page.jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids, ["b-new", "b-old"]);
    assert_eq!(page.next_cursor, None);

    let delayed_b = ListFilter {
        state: Some(JobState::Delayed),
        organisation_id: Some("org-b".into()),
    };
    let page = queue.list(&delayed_b, None, 10).await.unwrap();
    let ids: Vec<&str> = page.jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids, ["b-old"]);

    let unknown = ListFilter {
        state: None,
        organisation_id: Some("org-z".into()),
    };
    let page = queue.list(&unknown, None, 10).await.unwrap();
    assert!(page.jobs.is_empty() && page.next_cursor.is_none());
    let everyone = all_pages(&queue, &ListFilter::default(), 500)
        .await
        .concat();
    assert_eq!(everyone.len(), 1_203);
    assert_eq!(
        redis.cli(&["ZCARD", &queue.keys().organisation_index("org-b")]),
        "2"
    );
}

fn expire(redis: &RedisServer, queue: &Queue, id: &str) {
    assert_eq!(redis.cli(&["PEXPIRE", &queue.keys().job(id), "1"]), "1");
}

async fn wait_gone(queue: &Queue, id: &str) {
    for _ in 0..200 {
        if !queue.exists(id).await.unwrap() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{id} did not expire");
}

#[tokio::test]
async fn expired_jobs_leave_the_listing_and_the_indexes() {
    let (redis, queue) = setup().await;
    for i in 0..10 {
        add(&queue, &format!("j{i}"), Some("org-1"), 0).await;
    }
    for id in ["j2", "j5", "j9"] {
        expire(&redis, &queue, id);
        wait_gone(&queue, id).await;
    }
    let ids = all_pages(&queue, &ListFilter::default(), 4).await.concat();
    assert_eq!(ids, ["j8", "j7", "j6", "j4", "j3", "j1", "j0"]);
    assert_eq!(redis.cli(&["ZCARD", &queue.keys().index()]), "7");
    let org = ListFilter {
        state: None,
        organisation_id: Some("org-1".into()),
    };
    assert_eq!(all_pages(&queue, &org, 100).await.concat().len(), 7);
    assert_eq!(
        redis.cli(&["ZCARD", &queue.keys().organisation_index("org-1")]),
        "7"
    );

    // Adding drops the oldest entries whose job is gone, without a listing.
    for id in ["j0", "j1"] {
        expire(&redis, &queue, id);
        wait_gone(&queue, id).await;
    }
    add(&queue, "j10", Some("org-1"), 0).await;
    assert_eq!(redis.cli(&["ZCARD", &queue.keys().index()]), "6");
    assert_eq!(
        redis.cli(&["ZCARD", &queue.keys().organisation_index("org-1")]),
        "6"
    );
}

#[tokio::test]
async fn a_listing_goes_on_after_its_cursor_job_has_gone() {
    let (redis, queue) = setup().await;
    for i in 0..30 {
        add(&queue, &format!("j{i:02}"), None, 0).await;
    }
    let first = queue.list(&ListFilter::default(), None, 10).await.unwrap();
    let last = first.jobs.last().unwrap().job_id.clone();
    assert_eq!(last, "j20");
    // Removed from the index entirely (expired and met by another listing).
    redis.cli(&["ZREM", &queue.keys().index(), &last]);
    let cursor = first.next_cursor.unwrap();
    let second = queue
        .list(&ListFilter::default(), Some(&cursor), 10)
        .await
        .unwrap();
    let ids: Vec<&str> = second.jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "j19", "j18", "j17", "j16", "j15", "j14", "j13", "j12", "j11", "j10"
        ]
    );
}

#[tokio::test]
async fn cursors_it_did_not_make_are_refused() {
    let (_redis, queue) = setup().await;
    for i in 0..5 {
        add(&queue, &format!("j{i}"), Some("org-1"), 0).await;
    }
    let all = ListFilter::default();
    let cursor = queue
        .list(&all, None, 2)
        .await
        .unwrap()
        .next_cursor
        .unwrap();
    // The last hex digit of the check changed (to another digit whatever it was).
    let last = if cursor.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{last}", &cursor[..cursor.len() - 1]);
    for bad in [
        "",
        "abc",
        "1.2.3",
        "9999999999999.6a30.0123456789abcdef",
        &tampered,
    ] {
        let result = queue.list(&all, Some(bad), 2).await;
        assert!(matches!(result, Err(QueueError::BadCursor)), "{bad:?}");
    }
    let other_filter = ListFilter {
        state: Some(JobState::Waiting),
        organisation_id: None,
    };
    let result = queue.list(&other_filter, Some(&cursor), 2).await;
    assert!(
        matches!(result, Err(QueueError::BadCursor)),
        "a cursor belongs to its filter"
    );
    let page = queue.list(&all, Some(&cursor), 2).await.unwrap();
    assert_eq!(page.jobs.len(), 2);
}

#[tokio::test]
async fn cancelled_jobs_are_listed_by_their_state() {
    let (_redis, queue) = setup().await;
    for i in 0..6 {
        add(&queue, &format!("j{i}"), Some("org-1"), 0).await;
    }
    for id in ["j1", "j4"] {
        queue.cancel(id).await.unwrap();
    }
    let cancelled = ListFilter {
        state: Some(JobState::Cancelled),
        organisation_id: Some("org-1".into()),
    };
    let page = queue.list(&cancelled, None, 10).await.unwrap();
    let ids: Vec<&str> = page.jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids, ["j4", "j1"]);
    let waiting = ListFilter {
        state: Some(JobState::Waiting),
        organisation_id: None,
    };
    assert_eq!(all_pages(&queue, &waiting, 10).await.concat().len(), 4);
}
