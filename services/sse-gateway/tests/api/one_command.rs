//! On one Redis node a new stream's first step (first deliveries and session) and a resume's
//! take-over and replays are one command each. These tests hold each against the same
//! result computed command by command (the way a Redis Cluster takes), in every case of
//! history and record, and count the commands.

use std::sync::Arc;

use fred::prelude::Client;
use job_queue::{JobOptions, NewJob, Queue, WorkerRegistry};
use progress_contract::history::StreamId;
use progress_contract::{Channel, ChannelKind};
use service_runtime::redis::RedisOptions;
use sse_gateway::resume::first_delivery::{FirstDelivery, Plan};
use sse_gateway::resume::history::{HistoryReader, Replay};
use sse_gateway::resume::opening::NewStream;
use sse_gateway::resume::points::ResumeFrom;
use sse_gateway::resume::session::{Session, SessionStore};
use sse_gateway::script_pipe::ScriptPipe;
use std::time::Duration;
use test_support::RedisServer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use uuid::Uuid;

struct Stores {
    redis: RedisServer,
    sessions: SessionStore,
    first: FirstDelivery,
    history: HistoryReader,
}

async fn stores() -> Stores {
    let redis = RedisServer::start();
    let client: Client = RedisOptions::new(redis.url())
        .connect_client()
        .await
        .unwrap();
    let queues = vec![
        Queue::new(client.clone(), "other-queue"),
        Queue::new(client.clone(), "resume-analysis"),
    ];
    // As the gateway does at start: no first call meets NOSCRIPT.
    sse_gateway::resume::opening::load_script(&client)
        .await
        .unwrap();
    sse_gateway::resume::resuming::load_script(&client)
        .await
        .unwrap();
    HistoryReader::new(client.clone())
        .load_scripts()
        .await
        .unwrap();
    let sessions = SessionStore::new(client.clone(), "pod-a", Duration::from_secs(60));
    sessions.load_scripts().await.unwrap();
    Stores {
        sessions,
        first: FirstDelivery::new(
            HistoryReader::new(client.clone()),
            queues,
            WorkerRegistry::new(client.clone()),
            64 * 1024,
        ),
        history: HistoryReader::new(client.clone()),
        redis,
    }
}

impl Stores {
    /// Watches every command Redis runs from now on (`MONITOR`).
    async fn monitor(&self) -> Monitor {
        let socket = TcpStream::connect(("127.0.0.1", self.redis.port()))
            .await
            .unwrap();
        let mut lines = BufReader::new(socket).lines();
        lines
            .get_mut()
            .get_mut()
            .write_all(b"MONITOR\r\n")
            .await
            .unwrap();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("+OK"));
        Monitor { lines }
    }

    fn add_history(&self, channel: &str, events: u64) {
        let key = format!("sse:hist:{{{channel}}}");
        for seq in 1..=events {
            let body = format!(r#"{{"type":"job_progress","jobId":"x","seq":{seq}}}"#);
            self.redis.cli(&["XADD", &key, "*", "e", &body]);
        }
    }

    /// `events` entries of which only the newest `keep` are left, as after trimming.
    fn add_trimmed_history(&self, channel: &str, events: u64, keep: u64) {
        self.add_history(channel, events);
        let key = format!("sse:hist:{{{channel}}}");
        self.redis
            .cli(&["XTRIM", &key, "MAXLEN", &keep.to_string()]);
    }
}

struct Monitor {
    lines: Lines<BufReader<TcpStream>>,
}

impl Monitor {
    /// The commands clients sent until now (not those scripts ran), by name.
    async fn sent(&mut self, redis: &RedisServer) -> Vec<String> {
        let marker = Uuid::new_v4().to_string();
        redis.cli(&["ECHO", &marker]);
        let mut sent = Vec::new();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(5), self.lines.next_line())
                .await
                .expect("MONITOR goes on")
                .unwrap()
                .expect("MONITOR is open");
            if line.contains(&marker) {
                return sent;
            }
            if line.contains(" lua] ") {
                continue;
            }
            let name = line.split('"').nth(1).unwrap_or_default().to_owned();
            sent.push(name);
        }
    }

    /// Asserts that clients sent exactly one command since the last look: a script.
    async fn saw_one_script(&mut self, redis: &RedisServer) {
        assert_eq!(self.sent(redis).await, ["EVALSHA"], "one command");
    }
}

async fn add_record(client_url: &str, job_id: &str) {
    let client: Client = RedisOptions::new(client_url)
        .connect_client()
        .await
        .unwrap();
    let queue = Queue::new(client, "resume-analysis");
    let job = NewJob {
        name: "analyze-resume".into(),
        data: serde_json::json!({"resumeId": job_id, "candidateId": "c"}),
        organisation_id: None,
        traceparent: None,
    };
    let options = JobOptions {
        job_id: Some(job_id.into()),
        ..JobOptions::default()
    };
    queue.add(job_id, &job, &options).await.unwrap();
}

fn same_plans(one: &[Plan], two: &[Plan]) {
    assert_eq!(one.len(), two.len());
    for (a, b) in one.iter().zip(two) {
        assert_eq!(a.channel, b.channel);
        assert_eq!(a.events, b.events, "{}", a.name());
        assert_eq!(a.state, b.state, "{}", a.name());
        assert_eq!(a.since, b.since, "{}", a.name());
        assert_eq!(a.resync, b.resync, "{}", a.name());
        assert_eq!(a.source, b.source, "{}", a.name());
    }
}

/// Both sessions, loaded back, are the same but for their ids.
async fn same_sessions(stores: &Stores, a: &Uuid, b: &Uuid) -> Session {
    let a = stores.sessions.load(a).await.unwrap().expect("session a");
    let b = stores.sessions.load(b).await.unwrap().expect("session b");
    assert_eq!(a, b);
    a
}

/// Opens a stream on `channels` in steps (the way a Cluster takes) and another in one
/// command, watching that one command is sent (over the scripts' own connection: plain
/// commands, no script); both get the same plans and sessions.
async fn open_both_ways(
    stores: &Stores,
    channels: &[Channel],
    replay: bool,
    subject: Option<&str>,
) -> (Vec<Plan>, Session) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let mut steps = stores.first.read(channels, replay).await.unwrap();
    let since: Vec<(String, StreamId)> = steps.iter().map(|p| (p.name(), p.since)).collect();
    stores
        .sessions
        .open(&a, &since, subject, true)
        .await
        .unwrap();
    stores.first.complete(&mut steps).await.unwrap();

    let mut monitor = stores.monitor().await;
    let stream = NewStream {
        id: b,
        subject,
        multi: true,
        channels,
        replay,
    };
    let one = stores
        .first
        .open_stream(&stores.sessions, &stream)
        .await
        .unwrap();
    if stores.sessions.pipe().is_some() {
        let sent = monitor.sent(&stores.redis).await;
        assert!(!sent.iter().any(|c| c.starts_with("EVAL")), "{sent:?}");
        let reads = sent.iter().filter(|c| *c == "XINFO").count();
        assert_eq!(reads, channels.len(), "{sent:?}");
    } else {
        monitor.saw_one_script(&stores.redis).await;
    }
    same_plans(&one, &steps);
    let session = same_sessions(stores, &a, &b).await;
    (one, session)
}

#[tokio::test]
async fn a_new_streams_first_deliveries_and_session_are_one_command_and_the_same_as_in_steps() {
    every_opening_case(&stores().await).await;
}

#[tokio::test]
async fn over_the_script_connection_a_new_stream_is_plain_commands_with_the_same_result() {
    let mut stores = stores().await;
    let pipe = ScriptPipe::start(&stores.redis.url(), Duration::from_secs(2)).await;
    stores.sessions = stores.sessions.clone().with_pipe(pipe);
    every_opening_case(&stores).await;
    // A stream without channels: its session only.
    let (plans, session) = open_both_ways(&stores, &[], true, Some("user-2")).await;
    assert!(plans.is_empty());
    assert!(session.channels.is_empty());
}

async fn every_opening_case(stores: &Stores) {
    // Every case a job's first delivery has: its whole story; a trimmed story with the
    // job's record (found in the second queue); trimmed without a record; only a record;
    // nothing yet.
    stores.add_history("job:whole", 3);
    stores.add_trimmed_history("job:trimmed", 4, 1);
    add_record(&stores.redis.url(), "trimmed").await;
    stores.add_trimmed_history("job:lost", 3, 2);
    add_record(&stores.redis.url(), "recorded").await;
    let channels: Vec<Channel> = ["whole", "trimmed", "lost", "recorded", "unknown"]
        .iter()
        .map(|id| Channel::job(id).unwrap())
        .collect();
    let sources: Vec<&str> = ["history", "snapshot", "history", "snapshot", "none"].to_vec();

    for (replay, subject) in [(true, Some("user-1")), (false, None)] {
        let (one, session) = open_both_ways(stores, &channels, replay, subject).await;
        assert_eq!(session.subject.as_deref(), subject);
        assert!(session.multi);
        assert_eq!(session.channels.len(), channels.len());
        if replay {
            let got: Vec<&str> = one.iter().map(|p| p.source.as_str()).collect();
            assert_eq!(got, sources, "every case is covered");
            let snapshot = one[1].events[0].1.as_str();
            assert!(snapshot.contains(r#""snapshot":true"#), "{snapshot}");
            assert!(
                one[2].resync,
                "a trimmed story without a record says resync"
            );
        } else {
            assert!(one.iter().all(|p| p.events.is_empty() && p.state.is_none()));
            assert_ne!(
                one[0].since,
                StreamId::ZERO,
                "live only starts at the newest"
            );
        }
    }
}

#[tokio::test]
async fn live_only_openings_with_queues_and_workers_are_one_command_too() {
    let stores = stores().await;
    stores.add_history("queue:resume-analysis", 2);
    let channels = vec![
        Channel::new(ChannelKind::Queue, "resume-analysis").unwrap(),
        Channel::new(ChannelKind::Worker, "w-1").unwrap(),
    ];
    assert!(sse_gateway::resume::opening::fits(&channels, false));
    assert!(!sse_gateway::resume::opening::fits(&channels, true));
    open_both_ways(&stores, &channels, false, None).await;
}

/// Every way a channel resumes: from the start, after an event, including one, live only,
/// after the largest id; on a trimmed history, after an event it still has and after one it
/// lost. Returns them with each one's replay read on its own (the way a Redis Cluster takes).
async fn resume_cases(stores: &Stores) -> (Vec<(Arc<str>, ResumeFrom)>, Vec<Replay>) {
    stores.add_history("job:full", 5);
    stores.add_trimmed_history("job:cut", 5, 2);
    let ids = |channel: &str| -> Vec<StreamId> {
        let key = format!("sse:hist:{{{channel}}}");
        stores
            .redis
            .cli(&["XRANGE", &key, "-", "+"])
            .lines()
            .filter_map(StreamId::parse)
            .collect()
    };
    let (full, cut) = (ids("job:full"), ids("job:cut"));
    assert_eq!((full.len(), cut.len()), (5, 2));
    let starts: Vec<(Arc<str>, ResumeFrom)> = vec![
        ("job:full".into(), ResumeFrom::After(StreamId::ZERO)),
        ("job:full".into(), ResumeFrom::After(full[1])),
        ("job:full".into(), ResumeFrom::Including(full[3])),
        ("job:full".into(), ResumeFrom::Live),
        ("job:full".into(), ResumeFrom::After(StreamId::MAX)),
        ("job:cut".into(), ResumeFrom::After(StreamId::ZERO)),
        ("job:cut".into(), ResumeFrom::After(cut[0])),
        ("job:cut".into(), ResumeFrom::After(full[0])),
        ("job:none".into(), ResumeFrom::After(full[0])),
    ];
    let mut steps: Vec<Replay> = Vec::new();
    for (channel, from) in &starts {
        steps.push(stores.history.replay(channel, *from).await.unwrap());
    }
    (starts, steps)
}

/// A session another pod held, closed.
async fn session_of_another_pod(stores: &Stores) -> Uuid {
    let id = Uuid::new_v4();
    let other = SessionStore::new(
        RedisOptions::new(stores.redis.url())
            .connect_client()
            .await
            .unwrap(),
        "pod-b",
        Duration::from_secs(60),
    );
    other.open(&id, &[], None, false).await.unwrap();
    id
}

/// The take-over's replays are those read step by step, and the session is this pod's.
async fn same_replays_and_taken_over(
    stores: &Stores,
    id: &Uuid,
    starts: &[(Arc<str>, ResumeFrom)],
    one: &[Replay],
    steps: &[Replay],
) {
    assert_eq!(one.len(), steps.len());
    for ((a, b), (channel, from)) in one.iter().zip(steps).zip(starts) {
        assert_eq!(a.events, b.events, "{channel} {from:?}");
        assert_eq!(a.gap, b.gap, "{channel} {from:?}");
    }
    let counts: Vec<(usize, bool)> = one.iter().map(|r| (r.events.len(), r.gap)).collect();
    assert_eq!(
        counts,
        [
            (5, false),
            (3, false),
            (2, false),
            (0, false),
            (0, false),
            (2, true),
            (1, false),
            (2, true),
            (0, true),
        ]
    );
    let session = stores.sessions.load(id).await.unwrap().unwrap();
    assert_eq!(session.owner, "pod-a", "taken over");
    assert!(!session.closed);
}

/// A session of another pod taken over with every resume case, watched: what Redis was sent
/// and the replays, beside the same read step by step.
struct Resumed {
    id: Uuid,
    starts: Vec<(Arc<str>, ResumeFrom)>,
    steps: Vec<Replay>,
    one: Vec<Replay>,
    monitor: Monitor,
}

async fn take_over_watched(stores: &Stores) -> Resumed {
    let (starts, steps) = resume_cases(stores).await;
    let id = session_of_another_pod(stores).await;
    let monitor = stores.monitor().await;
    let one = stores
        .sessions
        .take_over_and_replay(&id, &starts)
        .await
        .unwrap();
    Resumed {
        id,
        starts,
        steps,
        one,
        monitor,
    }
}

#[tokio::test]
async fn a_resumes_take_over_and_replays_are_one_command_and_the_same_as_in_steps() {
    let stores = stores().await;
    let mut resumed = take_over_watched(&stores).await;
    resumed.monitor.saw_one_script(&stores.redis).await;
    let Resumed {
        id,
        starts,
        steps,
        one,
        ..
    } = resumed;
    same_replays_and_taken_over(&stores, &id, &starts, &one, &steps).await;
}

#[tokio::test]
async fn over_the_script_connection_a_resume_is_plain_commands_with_the_same_result() {
    let mut stores = stores().await;
    let pipe = ScriptPipe::start(&stores.redis.url(), Duration::from_secs(2)).await;
    stores.sessions = stores.sessions.clone().with_pipe(pipe);
    let Resumed {
        id,
        starts,
        steps,
        one,
        mut monitor,
    } = take_over_watched(&stores).await;
    let sent = monitor.sent(&stores.redis).await;
    assert!(!sent.iter().any(|c| c.starts_with("EVAL")), "{sent:?}");
    // The take-over (4 commands), then two reads per channel with something to replay.
    assert_eq!(sent.len(), 4 + 2 * 7, "{sent:?}");
    same_replays_and_taken_over(&stores, &id, &starts, &one, &steps).await;
    // Loading a session is plain commands too.
    let mut monitor = stores.monitor().await;
    let loaded = stores.sessions.load(&id).await.unwrap().unwrap();
    assert_eq!(loaded.owner, "pod-a");
    assert_eq!(monitor.sent(&stores.redis).await, ["HGETALL", "SMEMBERS"]);
}
