//! The stream queue, positions and direct writes, without Redis.

use super::*;
use futures::StreamExt;

fn connection() -> Arc<Connection> {
    Arc::new(Connection::new(Uuid::new_v4(), 0, CancellationToken::new()))
}

fn plain(text: &'static str) -> Item {
    Item::plain(Bytes::from_static(text.as_bytes()))
}

fn tagged(channel: &Arc<str>, ms: u64, text: &'static str) -> Item {
    Item {
        body: Bytes::from_static(text.as_bytes()),
        history: Some(Tagged {
            channel: channel.clone(),
            id: StreamId { ms, seq: 0 },
        }),
        channel: Some(channel.clone()),
        coalescable: false,
    }
}

fn progress(channel: &Arc<str>, ms: u64, text: &'static str) -> Item {
    Item {
        coalescable: true,
        ..tagged(channel, ms, text)
    }
}

async fn next(stream: &mut ConnectionStream) -> Option<Bytes> {
    stream
        .next()
        .await
        .map(|r| r.unwrap_or_else(|never| match never {}))
}

#[tokio::test]
async fn delivers_in_order_then_ends_after_close() {
    let conn = connection();
    let mut stream = ConnectionStream::new(conn.clone(), |_| {});
    assert_eq!(conn.push(plain("a"), 4), Push::Queued);
    assert_eq!(conn.push(plain("b"), 4), Push::Queued);
    assert_eq!(next(&mut stream).await.as_deref(), Some(&b"a"[..]));
    assert_eq!(next(&mut stream).await.as_deref(), Some(&b"b"[..]));
    assert!(conn.close_with(Bytes::from_static(b"bye")));
    assert_eq!(conn.push(plain("late"), 4), Push::Closed);
    assert_eq!(next(&mut stream).await.as_deref(), Some(&b"bye"[..]));
    assert_eq!(next(&mut stream).await, None);
}

/// A direct stream over loopback: the connection writes to `server`'s end.
async fn direct() -> (Arc<Connection>, tokio::net::TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let conn = connection();
    conn.attach_sink(Box::new(crate::transport::wire::Wire::new(
        server, b"", false,
    )));
    (conn, client)
}

#[tokio::test]
async fn a_direct_stream_writes_at_once_and_queues_behind_a_full_socket() {
    use tokio::io::AsyncReadExt;
    let (conn, mut client) = direct().await;
    let job: Arc<str> = Arc::from("job:1");
    assert_eq!(conn.push(tagged(&job, 5, "first\n"), 4), Push::Queued);
    assert_eq!(conn.queued(), 0, "written, not queued");
    assert_eq!(conn.push(tagged(&job, 5, "again\n"), 4), Push::Duplicate);
    let mut received = vec![0u8; 256];
    let n = client.read(&mut received).await.unwrap();
    let expected = format!("id: {}:1:5-0\nfirst\n", conn.id());
    assert_eq!(String::from_utf8_lossy(&received[..n]), expected);

    // Fill the socket: what it refuses waits, and what follows queues behind it, in order.
    let big = Bytes::from(vec![b'x'; 256 * 1024]);
    let mut pushed = 0;
    while conn.queued() == 0 {
        assert_eq!(conn.push(Item::plain(big.clone()), 1_000), Push::Queued);
        pushed += big.len();
    }
    assert_eq!(conn.push(plain("tail"), 1_000), Push::Queued);
    let queued = conn.queued();
    assert!(queued >= 2, "{queued} frames wait behind the full socket");
    let waiting = conn.clone();
    let writer = tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| waiting.poll_sink(cx)).await;
    });
    let mut rest = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    while rest.len() < pushed + 4 {
        let n = client.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the stream ended early");
        rest.extend_from_slice(&buffer[..n]);
    }
    assert!(rest[..pushed].iter().all(|b| *b == b'x'));
    assert_eq!(&rest[pushed..], b"tail");
    writer.abort();
}

#[test]
fn bounded_and_close_discards_backlog() {
    let conn = connection();
    for _ in 0..3 {
        assert_eq!(conn.push(plain("x"), 3), Push::Queued);
    }
    assert_eq!(conn.push(plain("x"), 3), Push::Full);
    assert!(conn.close_with(Bytes::from_static(b"bye")));
    assert_eq!(conn.queued(), 1);
    assert!(!conn.close_with(Bytes::from_static(b"again")));
}

#[tokio::test]
async fn numbered_events_carry_ids_and_move_the_position() {
    let conn = connection();
    let job: Arc<str> = Arc::from("job:1");
    let mut stream = ConnectionStream::new(conn.clone(), |_| {});
    assert!(conn.add_channel("job:1"));
    conn.push(tagged(&job, 5, "e5"), 8);
    conn.push(plain("heartbeat"), 8);
    let id_line = next(&mut stream).await.unwrap();
    // One channel: the id names the event in its history, and nothing needs flushing.
    assert_eq!(id_line, Bytes::from(format!("id: {}:1:5-0\n", conn.id())));
    assert_eq!(next(&mut stream).await.as_deref(), Some(&b"e5"[..]));
    assert_eq!(next(&mut stream).await.as_deref(), Some(&b"heartbeat"[..]));
    assert!(conn.position_if_changed(false).is_none());
    let position = conn.position_if_changed(true).unwrap();
    assert_eq!(position.seq, 1);
    assert_eq!(
        position.cursors.as_slice(),
        [(job.clone(), StreamId { ms: 5, seq: 0 })]
    );
    assert!(position.log.is_empty());
}

#[tokio::test]
async fn a_second_channel_moves_the_position_to_the_session_for_good() {
    let conn = connection();
    let (a, b): (Arc<str>, Arc<str>) = (Arc::from("job:a"), Arc::from("job:b"));
    let mut stream = ConnectionStream::new(conn.clone(), |_| {});
    conn.add_channel("job:a");
    conn.push(tagged(&a, 5, "a5"), 8);
    read_events(&mut stream, 1).await;
    assert!(!conn.is_multi());
    conn.add_channel("job:b");
    assert!(conn.is_multi());
    // The log starts with the last event written, and the position is to be flushed.
    let position = conn.position_if_changed(false).unwrap();
    assert_eq!(position.log, [(1, a.clone(), StreamId { ms: 5, seq: 0 })]);
    conn.push(tagged(&b, 6, "b6"), 8);
    let id_line = next(&mut stream).await.unwrap();
    assert_eq!(id_line, Bytes::from(format!("id: {}:2\n", conn.id())));
    next(&mut stream).await.unwrap();
    let position = conn.position_if_changed(false).unwrap();
    assert_eq!(position.log.len(), 2);
    // Removing a channel does not bring one-channel ids back.
    conn.remove_channel("job:b");
    conn.push(tagged(&a, 7, "a7"), 8);
    let id_line = next(&mut stream).await.unwrap();
    assert_eq!(id_line, Bytes::from(format!("id: {}:3\n", conn.id())));
}

#[tokio::test]
async fn held_live_events_follow_the_replay_without_duplicates() {
    let conn = connection();
    let job: Arc<str> = Arc::from("job:1");
    conn.hold();
    // Live events arrive while the replay is being read.
    conn.push(tagged(&job, 3, "e3"), 8);
    conn.push(tagged(&job, 4, "e4"), 8);
    conn.push_replay(tagged(&job, 2, "e2"));
    conn.push_replay(tagged(&job, 3, "e3"));
    assert_eq!(conn.release(), 1, "e3 came twice");
    assert_eq!(conn.push(tagged(&job, 4, "e4 again"), 8), Push::Duplicate);
    let mut stream = ConnectionStream::new(conn.clone(), |_| {});
    let mut bodies = Vec::new();
    for _ in 0..6 {
        bodies.push(next(&mut stream).await.unwrap());
    }
    let events: Vec<&[u8]> = bodies.iter().skip(1).step_by(2).map(|b| &b[..]).collect();
    assert_eq!(events, [&b"e2"[..], b"e3", b"e4"]);
}

#[tokio::test]
async fn a_live_event_that_overtakes_a_catch_up_waits_for_the_replay() {
    let conn = connection();
    let (job, other): (Arc<str>, Arc<str>) = (Arc::from("job:1"), Arc::from("job:2"));
    let mut stream = ConnectionStream::new(conn.clone(), |_| {});
    conn.add_channel("job:1");
    conn.add_channel("job:2");
    conn.push(tagged(&job, 2, "e2"), 8);
    read_events(&mut stream, 1).await;
    // The subscription is lost; the catch-up starts from the last event written.
    assert_eq!(conn.hold_channel(&job), Some(StreamId { ms: 2, seq: 0 }));
    assert_eq!(
        conn.hold_channel(&other),
        None,
        "no position: nothing to hold"
    );
    // Back: e3 and e4 were published while away (history only); e5 arrives live before
    // the history is read, and waits. Other channels flow meanwhile.
    assert_eq!(conn.push(tagged(&job, 5, "e5"), 8), Push::Queued);
    assert_eq!(conn.push(tagged(&other, 6, "o6"), 8), Push::Queued);
    assert_eq!(read_events(&mut stream, 1).await, [&b"o6"[..]]);
    for (ms, body) in [(3, "e3"), (4, "e4"), (5, "e5")] {
        assert_eq!(conn.push_replay(tagged(&job, ms, body)), Push::Queued);
    }
    assert_eq!(conn.release_channel(&job), 1, "e5 came twice");
    assert_eq!(
        read_events(&mut stream, 3).await,
        [&b"e3"[..], b"e4", b"e5"],
        "nothing lost, in order, once"
    );
}

#[test]
fn channel_holds_nest() {
    let conn = connection();
    let job: Arc<str> = Arc::from("job:1");
    conn.add_channel("job:1");
    conn.push(tagged(&job, 1, "e1"), 8);
    // Two catch-ups overlap (two reconnect events); the first to finish releases
    // nothing the second still needs held.
    assert!(conn.hold_channel(&job).is_some());
    assert!(conn.hold_channel(&job).is_some());
    conn.push(tagged(&job, 3, "e3"), 8);
    conn.release_channel(&job);
    assert_eq!(conn.queued(), 1, "still held");
    assert_eq!(conn.push_replay(tagged(&job, 2, "e2")), Push::Queued);
    conn.release_channel(&job);
    assert_eq!(conn.queued(), 3);
    // A resume's hold and a catch-up's overlap the same way.
    conn.hold();
    assert!(conn.hold_channel(&job).is_some());
    conn.push(tagged(&job, 4, "e4"), 8);
    conn.release_channel(&job);
    assert_eq!(conn.queued(), 3, "the resume still holds");
    conn.release();
    assert_eq!(conn.queued(), 4);
}

/// Reads `n` numbered events; returns their bodies.
async fn read_events(stream: &mut ConnectionStream, n: usize) -> Vec<Bytes> {
    let mut bodies = Vec::new();
    for _ in 0..n {
        let _id_line = next(stream).await.unwrap();
        bodies.push(next(stream).await.unwrap());
    }
    bodies
}

#[tokio::test]
async fn past_high_water_the_latest_progress_replaces_its_job_in_place() {
    let conn = connection();
    let (a, b): (Arc<str>, Arc<str>) = (Arc::from("job:a"), Arc::from("job:b"));
    conn.add_channel("job:a");
    conn.add_channel("job:b");
    // Capacity 8: coalescing starts at 6 queued.
    for item in [
        progress(&a, 1, "a1"),
        progress(&b, 2, "b2"),
        progress(&a, 3, "a3"),
        tagged(&b, 4, "b4-done"),
        progress(&a, 5, "a5"),
    ] {
        assert_eq!(conn.push(item, 8), Push::Queued);
    }
    assert_eq!(conn.push(plain("heartbeat"), 8), Push::Queued);
    assert_eq!(conn.push(progress(&a, 6, "a6"), 8), Push::Coalesced(1));
    assert_eq!(conn.push(progress(&a, 7, "a7"), 8), Push::Coalesced(1));
    assert_eq!(conn.push(progress(&a, 7, "a7 again"), 8), Push::Duplicate);
    // b's newest queued event is terminal: nothing overtakes it.
    assert_eq!(conn.push(progress(&b, 8, "b8"), 8), Push::Queued);
    assert_eq!(conn.push(tagged(&a, 9, "a9-done"), 8), Push::Queued);
    assert_eq!(conn.queued(), 8);

    let mut stream = ConnectionStream::new(conn.clone(), |_| {});
    // a7 sits where a5 was queued, before the heartbeat.
    let mut bodies = read_events(&mut stream, 5).await;
    bodies.push(next(&mut stream).await.unwrap());
    bodies.extend(read_events(&mut stream, 2).await);
    let bodies: Vec<&[u8]> = bodies.iter().map(|b| &b[..]).collect();
    assert_eq!(
        bodies,
        [
            &b"a1"[..],
            b"b2",
            b"a3",
            b"b4-done",
            b"a7",
            b"heartbeat",
            b"b8",
            b"a9-done"
        ]
    );
    let position = conn.position_if_changed(true).unwrap();
    let logged: Vec<u64> = position.log.iter().map(|(_, _, id)| id.ms).collect();
    assert_eq!(
        logged,
        [1, 2, 3, 4, 7, 8, 9],
        "superseded a5, a6 never logged"
    );
}

#[test]
fn a_full_queue_drops_superseded_updates_before_it_is_full() {
    let conn = connection();
    let a: Arc<str> = Arc::from("job:a");
    // Capacity 4: coalescing in place starts at 3 queued.
    assert_eq!(conn.push(progress(&a, 1, "a1"), 4), Push::Queued);
    assert_eq!(conn.push(progress(&a, 2, "a2"), 4), Push::Queued);
    assert_eq!(conn.push(plain("x"), 4), Push::Queued);
    assert_eq!(conn.push(plain("y"), 4), Push::Queued);
    assert_eq!(conn.push(plain("z"), 4), Push::Coalesced(1), "a1 made room");
    assert_eq!(conn.push(plain("w"), 4), Push::Full, "nothing left to drop");
    assert_eq!(conn.queued(), 4);
}

#[tokio::test]
async fn a_resume_after_coalescing_replays_the_unreceived_terminal_event() {
    let conn = connection();
    let a: Arc<str> = Arc::from("job:a");
    conn.add_channel("job:a");
    for (ms, body) in [(1, "a1"), (2, "a2"), (3, "a3"), (4, "a4")] {
        conn.push(progress(&a, ms, body), 4);
    }
    conn.push(tagged(&a, 5, "a5-done"), 4);
    let mut stream = ConnectionStream::new(conn.clone(), |_| {});
    let mut last_id = Bytes::new();
    for _ in 0..3 {
        last_id = next(&mut stream).await.unwrap();
        let body = next(&mut stream).await.unwrap();
        assert_ne!(&body[..], b"a3", "a4 replaced a3");
    }
    // The client got events 1 to 3 (a1, a2, a4); the terminal a5 was written but lost.
    let text = std::str::from_utf8(&last_id).unwrap();
    let point = crate::resume::last_event_id::parse(text.trim_start_matches("id: ")).unwrap();
    assert_eq!(point.seen, 3);
    let session = crate::resume::session::Session {
        owner: "pod".into(),
        channels: ["job:a".to_owned()].into(),
        closed: true,
        ..Default::default()
    };
    let points = crate::resume::points::resume_points(&session, point.seen, point.event);
    assert_eq!(
        points,
        [(
            "job:a".to_owned(),
            crate::resume::points::ResumeFrom::After(StreamId { ms: 4, seq: 0 })
        )]
    );
}

#[tokio::test]
async fn wakes_a_waiting_reader() {
    let conn = connection();
    let mut stream = ConnectionStream::new(conn.clone(), |_| {});
    let reader = tokio::spawn(async move { next(&mut stream).await });
    tokio::task::yield_now().await;
    conn.push(plain("late"), 4);
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
        .await
        .expect("reader woken")
        .expect("reader task");
    assert_eq!(got.as_deref(), Some(&b"late"[..]));
}

#[test]
fn drop_runs_cleanup_once() {
    let conn = connection();
    let flag = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = flag.clone();
    drop(ConnectionStream::new(conn, move |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }));
    assert_eq!(flag.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn channels_are_a_set() {
    let conn = connection();
    assert!(conn.add_channel("job:1"));
    assert!(!conn.add_channel("job:1"));
    assert_eq!(conn.channel_count(), 1);
    assert!(conn.remove_channel("job:1"));
    assert!(!conn.remove_channel("job:1"));
}
