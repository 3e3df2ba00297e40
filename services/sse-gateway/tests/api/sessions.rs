//! The session store against a real Redis.

use std::time::Duration;

use fred::prelude::{Client, KeysInterface};
use service_runtime::redis::RedisOptions;
use sse_gateway::resume::session::{REFRESH_BATCH, SessionStore};
use test_support::{RedisServer, SseClient};
use uuid::Uuid;

use crate::helpers::{TestApp, WAIT, eventually, publish_seq, spawn_app_with};

async fn ttls(client: &Client, keys: &[String]) -> Vec<i64> {
    let pipeline = client.pipeline();
    for key in keys {
        let _: () = pipeline.ttl(key).await.unwrap();
    }
    pipeline.all().await.unwrap()
}

#[tokio::test]
async fn a_refresh_extends_every_open_session_over_several_round_trips() {
    let redis = RedisServer::start();
    let client = RedisOptions::new(redis.url())
        .connect_client()
        .await
        .unwrap();
    let store = SessionStore::new(client.clone(), "pod-a", Duration::from_secs(60));
    let ids: Vec<Uuid> = (0..REFRESH_BATCH * 2 + 7).map(|_| Uuid::new_v4()).collect();
    let mut keys = Vec::new();
    for id in &ids {
        store.create(id, &["job:a".to_owned()], None).await.unwrap();
        keys.push(format!("sse:sess:{{{id}}}"));
        keys.push(format!("sse:sess:{{{id}}}:ch"));
    }
    let pipeline = client.pipeline();
    for key in &keys {
        let _: () = pipeline.expire(key, 5, None).await.unwrap();
    }
    let _: Vec<i64> = pipeline.all().await.unwrap();
    assert!(ttls(&client, &keys).await.iter().all(|ttl| *ttl <= 5));

    store.refresh(&ids).await.unwrap();

    let after = ttls(&client, &keys).await;
    assert_eq!(after.len(), keys.len());
    let short: Vec<_> = keys
        .iter()
        .zip(&after)
        .filter(|(_, ttl)| **ttl < 100)
        .collect();
    assert!(short.is_empty(), "sessions not extended: {short:?}");
}

#[tokio::test]
async fn the_gateway_loads_its_scripts_when_it_starts() {
    let app = crate::helpers::spawn_app().await;
    let publish = fred::util::sha1_hash(progress_contract::history::PUBLISH_SCRIPT);
    let flush = fred::util::sha1_hash(include_str!("../../src/resume/lua/session_flush.lua"));
    let open = fred::util::sha1_hash(sse_gateway::resume::opening::OPEN_LUA);
    let resume = fred::util::sha1_hash(sse_gateway::resume::resuming::RESUME_LUA);
    // Nothing has been published and no stream has opened, resumed or closed: only the start
    // can have loaded them.
    let exists = app
        .redis
        .cli(&["SCRIPT", "EXISTS", &publish, &flush, &open, &resume]);
    assert_eq!(exists.lines().collect::<Vec<_>>(), ["1", "1", "1", "1"]);
}

/// A stream on jobs `{prefix}-a` and `{prefix}-b` and another on `{prefix}-c`, each past
/// event 1 of its jobs.
struct TwoStreams {
    multi: SseClient,
    multi_id: String,
    single: SseClient,
    single_id: String,
    /// The SSE id of the one-channel stream's event.
    single_last: String,
}

async fn two_streams_past_event_one(app: &TestApp, prefix: &str) -> TwoStreams {
    let (mut multi, multi_id) = app.connect(&format!("?jobs={prefix}-a,{prefix}-b")).await;
    let (mut single, single_id) = app.connect(&format!("?jobs={prefix}-c")).await;
    for _ in 0..2 {
        multi.next_named("subscribed", WAIT).await.unwrap();
    }
    single.next_named("subscribed", WAIT).await.unwrap();
    for job in ["a", "b", "c"] {
        publish_seq(app, &format!("job:{prefix}-{job}"), 1).await;
    }
    for _ in 0..2 {
        multi.next_named("job_update", WAIT).await.unwrap();
    }
    let single_last = single.next_named("job_update", WAIT).await.unwrap().id;
    TwoStreams {
        multi,
        multi_id,
        single,
        single_id,
        single_last,
    }
}

#[tokio::test]
async fn a_stream_on_several_channels_has_its_position_written_while_it_is_open() {
    let app = spawn_app_with(|config| {
        config.cursor_flush_interval = Duration::from_millis(100);
    })
    .await;
    let TwoStreams {
        multi,
        multi_id,
        single,
        single_id,
        ..
    } = two_streams_past_event_one(&app, "pos").await;

    // The flush visits the stream that has had several channels while it stays open…
    let key = format!("sse:sess:{{{multi_id}}}");
    eventually("the position of the two-channel stream", || {
        let cursors = app.redis.cli(&["HGET", &key, "cursors"]);
        async move { cursors.contains("job:pos-a") && cursors.contains("job:pos-b") }
    })
    .await;
    // …and leaves the one-channel stream alone: its SSE ids carry its position.
    let single_key = format!("sse:sess:{{{single_id}}}");
    assert_eq!(app.redis.cli(&["HGET", &single_key, "cursors"]).trim(), "");
    drop((multi, single));
}

#[tokio::test]
async fn a_one_channel_stream_whose_client_leaves_writes_nothing_and_still_resumes_exactly() {
    let window = Duration::from_secs(60);
    let app = spawn_app_with(|config| config.resume_window = window).await;
    let TwoStreams {
        multi,
        multi_id,
        single,
        single_id,
        single_last: last,
    } = two_streams_past_event_one(&app, "left").await;

    // The one-channel stream goes first: had it written anything, that would have landed
    // before the two-channel stream's final position.
    drop(single);
    app.wait_numsub("job:left-c", 0).await;
    drop(multi);
    app.wait_session_closed(&multi_id).await;
    let key = format!("sse:sess:{{{single_id}}}");
    for field in ["closedAt", "cursors"] {
        assert_eq!(
            app.redis.cli(&["HEXISTS", &key, field]).trim(),
            "0",
            "{field} of the one-channel stream"
        );
    }
    let ttl: u64 = app.redis.cli(&["TTL", &key]).trim().parse().unwrap();
    assert!(
        ttl > window.as_secs(),
        "kept with its open stream's expiry, longer than the window: {ttl} s"
    );

    // Its SSE id alone says where it stood: what it missed comes once, then live.
    for seq in 2..=3 {
        publish_seq(&app, "job:left-c", seq).await;
    }
    let url = app.url("/api/v1/sse/connect");
    let mut resumed = SseClient::connect_with(&url, &[("last-event-id", &last)])
        .await
        .unwrap();
    let connected = resumed.next_event(WAIT).await.unwrap();
    assert_eq!(connected.json()["resumed"], true);
    let mut seqs = Vec::new();
    for publish_before in [None, None, Some(4)] {
        if let Some(seq) = publish_before {
            publish_seq(&app, "job:left-c", seq).await;
        }
        let event = resumed.next_named("job_update", WAIT).await.unwrap();
        seqs.push(event.json()["seq"].as_u64().unwrap());
    }
    assert_eq!(seqs, [2, 3, 4], "each missed event once, then live");
}

#[tokio::test]
async fn a_position_flush_never_brings_back_an_expired_session() {
    let app = spawn_app_with(|config| {
        crate::tokens::jwt(config);
        config.cursor_flush_interval = Duration::from_millis(100);
    })
    .await;
    let alice = crate::tokens::token("alice", Some("org-1"), &[]);
    let (mut stream, id) = app.connect_as("?jobs=gone-a,gone-b", &alice).await;
    for _ in 0..2 {
        stream.next_named("subscribed", WAIT).await.unwrap();
    }
    let key = format!("sse:sess:{{{id}}}");
    // The session expires while its stream is still open (e.g. Redis lost it).
    app.redis.cli(&["DEL", &key, &format!("{key}:ch")]);
    publish_seq(&app, "job:gone-a", 1).await;
    let last = stream.next_named("job_update", WAIT).await.unwrap().id;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        app.redis.cli(&["EXISTS", &key]).trim(),
        "0",
        "not written back"
    );
    drop(stream);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.redis.cli(&["EXISTS", &key]).trim(),
        "0",
        "nor by the final position"
    );
    // Its owner reconnecting gets a new stream, not a refusal.
    let bearer = format!("Bearer {alice}");
    let mut again = SseClient::connect_with(
        &app.url("/api/v1/sse/connect"),
        &[("authorization", &bearer), ("last-event-id", &last)],
    )
    .await
    .unwrap();
    let connected = again.next_event(WAIT).await.unwrap().json();
    assert_eq!(connected["resumed"], false);
}

#[tokio::test]
async fn a_session_opened_with_its_channels_is_loaded_and_taken_over_whole() {
    let redis = RedisServer::start();
    let client = RedisOptions::new(redis.url())
        .connect_client()
        .await
        .unwrap();
    let window = Duration::from_secs(60);
    let store = SessionStore::new(client.clone(), "pod-a", window);
    let id = Uuid::new_v4();
    let since = progress_contract::history::StreamId::parse("1700000000000-3").unwrap();
    let channels = vec![
        ("job:a".to_owned(), since),
        (
            "job:b".to_owned(),
            progress_contract::history::StreamId::ZERO,
        ),
    ];
    store
        .open(&id, &channels, Some("user-1"), true)
        .await
        .unwrap();

    let session = store.load(&id).await.unwrap().expect("the session exists");
    assert_eq!(session.owner, "pod-a");
    assert_eq!(session.subject.as_deref(), Some("user-1"));
    assert!(session.multi);
    assert!(!session.closed);
    assert_eq!(session.seq, 0);
    let mut names: Vec<&str> = session.channels.iter().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["job:a", "job:b"]);
    assert_eq!(session.since.get("job:a"), Some(&since));
    let keys = [
        format!("sse:sess:{{{id}}}"),
        format!("sse:sess:{{{id}}}:ch"),
    ];
    assert!(ttls(&client, &keys).await.iter().all(|ttl| *ttl > 60));

    // Closed on this pod, then taken over by another: the other owns it, open again.
    let position = sse_gateway::fanout::connection::Position::default();
    assert!(store.flush(&id, &position, true).await.unwrap());
    assert!(store.load(&id).await.unwrap().unwrap().closed);
    let other = SessionStore::new(client.clone(), "pod-b", window);
    other.take_over(&id).await.unwrap();
    let taken = store.load(&id).await.unwrap().unwrap();
    assert_eq!(taken.owner, "pod-b");
    assert!(!taken.closed);
    assert_eq!(taken.channels.len(), 2);
    assert!(!store.flush(&id, &position, false).await.unwrap());

    // A stream opened without channels still has its session.
    let bare = Uuid::new_v4();
    store.open(&bare, &[], None, false).await.unwrap();
    let session = store
        .load(&bare)
        .await
        .unwrap()
        .expect("the session exists");
    assert_eq!(session.subject, None);
    assert!(session.channels.is_empty() && !session.multi);
    assert!(store.load(&Uuid::new_v4()).await.unwrap().is_none());
}
