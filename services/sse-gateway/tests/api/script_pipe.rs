//! The scripts' pipelined connection against a real redis-server: concurrent callers each
//! get their own reply, scripts Redis does not know are loaded, credentials and database
//! from the URL are used, and the connection comes back after Redis is killed or stops
//! answering, failing what was waiting instead of holding it.

use std::time::Duration;

use fred::types::Value;
use fred::types::scripts::Script;
use futures::future::join_all;
use sse_gateway::script_pipe::ScriptPipe;
use test_support::redis_server::{RedisServer, cli_on};

use crate::helpers::{WAIT, eventually, spawn_app};

fn echo() -> Script {
    Script::from_lua("redis.call('INCR', KEYS[1]) return {KEYS[1], ARGV[1]}")
}

async fn echoed(pipe: &ScriptPipe, key: &str, arg: &str) -> Option<Result<Value, String>> {
    let reply = pipe
        .eval(&echo(), &[key.to_owned()], &[arg.to_owned()])
        .await?;
    Some(reply.map_err(|e| e.details().to_owned()))
}

fn pair(key: &str, arg: &str) -> Value {
    Value::Array(vec![Value::String(key.into()), Value::String(arg.into())])
}

/// The clients on `redis` named as the pipe names its connection.
fn pipe_clients(redis: &RedisServer) -> Vec<String> {
    pipe_clients_on(redis.port())
}

/// [`pipe_clients`] of the Redis on `port`.
fn pipe_clients_on(port: u16) -> Vec<String> {
    cli_on(port, &["CLIENT", "LIST"])
        .lines()
        .filter(|line| line.contains("name=sse-gateway-scripts"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn concurrent_scripts_share_one_connection_and_each_gets_its_own_reply() {
    let redis = RedisServer::start();
    let pipe = ScriptPipe::start(&redis.url(), Duration::from_secs(2))
        .await
        .expect("a plain redis:// URL gets a pipe");
    assert!(pipe.is_connected());
    // Redis does not know the script yet: the first calls meet NOSCRIPT and send its body.
    let calls = (0..500).map(|i| {
        let pipe = pipe.clone();
        async move {
            let (key, arg) = (format!("k{}", i % 7), format!("a{i}"));
            (echoed(&pipe, &key, &arg).await, pair(&key, &arg))
        }
    });
    for (got, wanted) in join_all(calls).await {
        assert_eq!(got, Some(Ok(wanted)));
    }
    let total: u64 = (0..7)
        .map(|k| {
            redis
                .cli(&["GET", &format!("k{k}")])
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, 500, "every script ran once");
    assert_eq!(pipe_clients(&redis).len(), 1);
    // A script's own error is its caller's, and the connection goes on.
    let failing = Script::from_lua("return redis.call('INCR', KEYS[1])");
    redis.cli(&["SET", "text", "abc"]);
    let error = pipe
        .eval(&failing, &["text".to_owned()], &[])
        .await
        .unwrap()
        .unwrap_err();
    assert!(error.details().contains("not an integer"), "{error:?}");
    assert_eq!(
        echoed(&pipe, "k0", "after").await,
        Some(Ok(pair("k0", "after")))
    );
}

#[tokio::test]
async fn other_deployments_use_fred_only() {
    for url in [
        "rediss://127.0.0.1:6390",
        "redis-cluster://127.0.0.1:7000?node=127.0.0.1:7001",
        "redis-sentinel://127.0.0.1:26379/0?sentinelServiceName=mymaster",
    ] {
        assert!(
            ScriptPipe::start(url, Duration::from_secs(1))
                .await
                .is_none(),
            "{url}"
        );
    }
}

#[tokio::test]
async fn the_urls_password_and_database_are_used() {
    let redis = RedisServer::start();
    redis.cli(&["CONFIG", "SET", "requirepass", "s3cret"]);
    let url = format!("redis://:s3cret@127.0.0.1:{}/3", redis.port());
    let pipe = ScriptPipe::start(&url, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(pipe.is_connected());
    assert_eq!(echoed(&pipe, "in3", "x").await, Some(Ok(pair("in3", "x"))));
    let get = |db: &str| redis.cli(&["-a", "s3cret", "--no-auth-warning", "-n", db, "GET", "in3"]);
    assert_eq!(get("3"), "1");
    assert_eq!(get("0"), "");
    // A wrong password: no connection, so callers use fred (which fails the same way).
    let wrong = format!("redis://:nope@127.0.0.1:{}", redis.port());
    let pipe = ScriptPipe::start(&wrong, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(!pipe.is_connected());
    assert_eq!(echoed(&pipe, "k", "v").await, None);
}

#[tokio::test]
async fn the_pipe_comes_back_after_redis_is_killed_and_restarted() {
    let mut redis = RedisServer::start();
    let pipe = ScriptPipe::start(&redis.url(), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(echoed(&pipe, "a", "1").await, Some(Ok(pair("a", "1"))));
    redis.kill();
    // Down: a call says so at once (nothing sent), or fails if it was sent as the
    // connection broke; it never hangs.
    let call = tokio::time::timeout(Duration::from_secs(5), echoed(&pipe, "a", "2"))
        .await
        .expect("a call on a lost connection returns");
    assert!(matches!(call, None | Some(Err(_))), "{call:?}");
    eventually("the pipe notices it is down", || async {
        !pipe.is_connected()
    })
    .await;
    redis.restart();
    eventually("the pipe reconnects", || async { pipe.is_connected() }).await;
    // The new server has no scripts loaded: the body is sent again.
    assert_eq!(echoed(&pipe, "a", "3").await, Some(Ok(pair("a", "3"))));
    assert_eq!(pipe_clients(&redis).len(), 1);
}

#[tokio::test]
async fn commands_waiting_on_a_redis_that_stopped_answering_fail_then_it_comes_back() {
    let redis = RedisServer::start();
    let pipe = ScriptPipe::start(&redis.url(), Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(echoed(&pipe, "b", "1").await, Some(Ok(pair("b", "1"))));
    redis.pause();
    let started = std::time::Instant::now();
    let stuck = tokio::time::timeout(Duration::from_secs(5), echoed(&pipe, "b", "2"))
        .await
        .expect("the waiting command is failed, not held");
    assert!(matches!(stuck, Some(Err(_))), "{stuck:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    redis.unpause();
    eventually("the pipe reconnects", || async { pipe.is_connected() }).await;
    assert_eq!(echoed(&pipe, "b", "3").await, Some(Ok(pair("b", "3"))));
}

#[tokio::test]
async fn the_gateway_opens_and_resumes_streams_over_the_pipe() {
    let app = spawn_app().await;
    let (mut client, id) = app.connect("?jobs=piped").await;
    let clients = pipe_clients(&app.redis);
    assert_eq!(clients.len(), 1, "{clients:?}");
    // Its last command is the stream's, not the connection's own `CLIENT SETNAME`.
    assert!(!clients[0].contains("cmd=client|setname"), "{clients:?}");
    crate::helpers::publish_seq(&app, "job:piped", 1).await;
    let event = client.next_named("job_update", WAIT).await.unwrap();
    drop(client);
    app.wait_numsub("job:piped", 0).await;
    crate::helpers::publish_seq(&app, "job:piped", 2).await;
    let mut back = test_support::sse::SseClient::connect_with(
        &app.url("/api/v1/sse/connect"),
        &[("Last-Event-ID", &event.id)],
    )
    .await
    .unwrap();
    let connected = back.next_named("connected", WAIT).await.unwrap();
    assert_eq!(connected.json()["connectionId"], id.as_str());
    assert_eq!(connected.json()["resumed"], true);
    let missed = back.next_named("job_update", WAIT).await.unwrap();
    assert_eq!(missed.json()["seq"], 2);
}

/// Sets its flag when dropped: the cutting stops also when the test fails on the way.
struct StopOnDrop(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Cuts the pipe's connection to the Redis on `port` (`CLIENT KILL`) over and over until
/// `stop` (for a minute at most); returns how often it was cut.
fn keep_cutting_the_pipe(
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<usize> {
    tokio::task::spawn_blocking(move || {
        let mut cuts = 0;
        let until = std::time::Instant::now() + Duration::from_secs(60);
        while !stop.load(std::sync::atomic::Ordering::SeqCst) && std::time::Instant::now() < until {
            let id = pipe_clients_on(port).iter().find_map(|line| {
                line.split(' ')
                    .find_map(|f| f.strip_prefix("id="))
                    .map(str::to_owned)
            });
            if let Some(id) = id
                && cli_on(port, &["CLIENT", "KILL", "ID", &id]) == "1"
            {
                cuts += 1;
            }
            std::thread::sleep(Duration::from_millis(3));
        }
        cuts
    })
}

#[tokio::test]
async fn streams_opened_and_resumed_while_the_pipes_connection_is_cut_all_succeed() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use test_support::sse::SseClient;

    let app = spawn_app().await;
    eventually("the pipe is up", || async {
        !pipe_clients(&app.redis).is_empty()
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let cutter = keep_cutting_the_pipe(app.redis.port(), stop.clone());
    let stopping = StopOnDrop(stop);
    // New streams: their first reads and session writes go over a connection that keeps
    // being cut; each one still opens (what was lost is done again through fred). Half of
    // them as the seed's frontends do: a bare stream, then the job subscribed.
    let mut streams = Vec::new();
    for wave in 0..4 {
        let opens = (0..60).map(|i| {
            let app = &app;
            async move {
                let job = format!("cut-{wave}-{i}");
                let query = match i % 2 {
                    0 => format!("?jobs={job}"),
                    _ => String::new(),
                };
                let url = app.url(&format!("/api/v1/sse/connect{query}"));
                let mut client = SseClient::connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("stream for {job} did not open: {e:?}"));
                let connected = client.next_named("connected", WAIT).await.unwrap();
                let id = connected.json()["connectionId"].clone();
                if query.is_empty() {
                    let id = id.as_str().unwrap();
                    app.subscribe(&mut client, id, "job", &job).await;
                }
                (job, client, id.to_string())
            }
        });
        streams.extend(join_all(opens).await);
    }
    // Every stream gets one event, is dropped, misses the next, and comes back with its
    // Last-Event-ID while the cuts go on: each load and take-over succeeds too.
    let mut points = Vec::new();
    for (job, client, id) in &mut streams {
        crate::helpers::publish_seq(&app, &format!("job:{job}"), 1).await;
        let event = client.next_named("job_update", WAIT).await.unwrap();
        points.push((job.clone(), id.clone(), event.id));
    }
    drop(streams);
    for (job, _, _) in &points {
        app.wait_numsub(&format!("job:{job}"), 0).await;
        crate::helpers::publish_seq(&app, &format!("job:{job}"), 2).await;
    }
    let resumes = points.iter().map(|(job, id, last)| {
        let app = &app;
        async move {
            let url = app.url("/api/v1/sse/connect");
            let mut client = SseClient::connect_with(&url, &[("Last-Event-ID", last)])
                .await
                .unwrap_or_else(|e| panic!("stream of {job} did not resume: {e:?}"));
            let connected = client.next_named("connected", WAIT).await.unwrap();
            assert_eq!(connected.json()["connectionId"].to_string(), *id);
            assert_eq!(connected.json()["resumed"], true);
            let missed = client.next_named("job_update", WAIT).await.unwrap();
            assert_eq!(missed.json()["seq"], 2, "{job}");
        }
    });
    join_all(resumes).await;
    drop(stopping);
    let cuts = cutter.await.unwrap();
    assert!(cuts >= 3, "the pipe's connection was cut {cuts} times");
}
