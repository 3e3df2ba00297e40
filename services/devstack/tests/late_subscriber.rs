//! The original frontend flow against real processes (a redis-server, an sse-gateway and a
//! resume-worker that analyses a one-page text résumé in well under 100 ms): connect,
//! subscribe to the queue, add the job, then subscribe to it. However late the subscribe
//! comes, the stream shows the job's whole story, each event once, in order, exactly as its
//! history holds it; a job whose history was trimmed shows one snapshot of its record.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::gated_file::GatedFile;
use common::gateway::Gateway;
use common::worker::Worker;
use serde_json::{Value, json};
use test_support::{RedisServer, SseClient, SseEvent};

const WAIT: Duration = Duration::from_secs(20);

struct Stack {
    redis: RedisServer,
    gateway: Gateway,
    _worker: Worker,
    file: GatedFile,
    http: reqwest::Client,
}

impl Stack {
    async fn start() -> Self {
        let redis = RedisServer::start();
        let gateway = Gateway::start(&redis.url(), &[]).await;
        let worker = Worker::start(&redis.url(), "late-subscriber-worker").await;
        let resume = resume_analysis::fixtures::sample_resume_lines().join("\n");
        let file = GatedFile::start(resume.into_bytes()).await;
        file.open();
        Self {
            redis,
            gateway,
            _worker: worker,
            file,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.base())
    }

    async fn connect(&self, query: &str) -> (SseClient, String) {
        let mut client = SseClient::connect(&self.url(&format!("/api/v1/sse/connect{query}")))
            .await
            .unwrap();
        let connected = client.next_event(WAIT).await.unwrap();
        assert_eq!(connected.event, "connected");
        let id = connected.json()["connectionId"]
            .as_str()
            .unwrap()
            .to_owned();
        (client, id)
    }

    async fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.post(self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// `POST /api/v1/queue/add` with the original design's body; returns the job id.
    async fn add(&self, resume_id: &str) -> String {
        let body = json!({
            "queueName": "resume-analysis",
            "jobName": "analyze-resume",
            "data": {
                "resumeId": resume_id,
                "candidateId": "candidate-456",
                "organisationId": "org-789",
                "fileUrl": self.file.url("resume.txt"),
                "fileName": "resume.txt",
                "mimeType": "text/plain",
            },
        });
        let (status, added) = self.post("/api/v1/queue/add", Some(body)).await;
        assert_eq!(status, 201, "{added}");
        added["jobId"].as_str().unwrap().to_owned()
    }

    fn job_state(&self, job_id: &str) -> String {
        let key = job_queue::keys::Keys::new("resume-analysis").job(job_id);
        self.redis.cli(&["HGET", &key, "status"])
    }

    async fn wait_finished(&self, job_id: &str) {
        let deadline = Instant::now() + WAIT;
        while self.job_state(job_id) != "completed" {
            assert!(Instant::now() < deadline, "job {job_id} did not complete");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The event ids of the job's history, oldest first.
    fn history_ids(&self, job_id: &str) -> Vec<String> {
        self.redis
            .cli(&["XRANGE", &format!("sse:hist:{{job:{job_id}}}"), "-", "+"])
            .lines()
            .filter(|line| is_stream_id(line.trim()))
            .map(|line| line.trim().to_owned())
            .collect()
    }
}

fn is_stream_id(text: &str) -> bool {
    text.split_once('-').is_some_and(|(ms, seq)| {
        !ms.is_empty()
            && ms.bytes().all(|b| b.is_ascii_digit())
            && !seq.is_empty()
            && seq.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Reads `job_update`s until `completed` or `failed`.
async fn until_finished(stream: &mut SseClient) -> Vec<SseEvent> {
    let mut updates = Vec::new();
    loop {
        let update = stream.next_named("job_update", WAIT).await.unwrap();
        let status = update.json()["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        updates.push(update);
        if matches!(status.as_str(), "completed" | "failed") {
            return updates;
        }
    }
}

/// The story a stream showed is the job's history: the same events, once each, in order.
fn assert_whole_story(stack: &Stack, job_id: &str, updates: &[SseEvent]) {
    let shown: Vec<String> = updates
        .iter()
        .map(|e| e.json()["eventId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        shown,
        stack.history_ids(job_id),
        "every event once, in order"
    );
    let statuses: Vec<String> = updates
        .iter()
        .map(|e| e.json()["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses.first().map(String::as_str), Some("waiting"));
    assert_eq!(statuses.last().map(String::as_str), Some("completed"));
    let stages: Vec<String> = updates
        .iter()
        .filter_map(|e| e.json()["stage"].as_str().map(str::to_owned))
        .collect();
    let ranks: Vec<usize> = stages
        .iter()
        .map(|stage| {
            progress_contract::Stage::ALL
                .iter()
                .position(|s| s.as_str() == stage)
                .unwrap()
        })
        .collect();
    assert!(
        ranks.windows(2).all(|pair| pair[0] <= pair[1]),
        "stages in order: {stages:?}"
    );
    assert!(updates.len() >= 8, "the job's whole story: {statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_flow_shows_the_whole_job_however_late_the_subscribe() {
    let stack = Stack::start().await;
    // (a) connect, subscribe to the queue, add, subscribe to the job: as the seed's clients.
    let (mut stream, id) = stack.connect("").await;
    let (status, _) = stack
        .post(
            &format!("/api/v1/sse/{id}/subscribe/queue/resume-analysis"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let counts = stream
        .next_named("queue_update", WAIT)
        .await
        .unwrap()
        .json();
    assert_eq!(counts["queueName"], "resume-analysis", "the counts at once");
    let job = stack.add("resume-a").await;
    // However fast the worker: here it has finished before the subscribe.
    stack.wait_finished(&job).await;
    let (status, _) = stack
        .post(&format!("/api/v1/sse/{id}/subscribe/job/{job}"), None)
        .await;
    assert_eq!(status, 200);
    let story = until_finished(&mut stream).await;
    assert_whole_story(&stack, &job, &story);
    let completed = story.last().unwrap().json();
    assert_eq!(completed["resumeId"], "resume-a");
    assert!(completed["result"].is_object(), "the result: {completed}");

    // (b) a job that finished a while ago, watched at connect from a new tab.
    let earlier = stack.add("resume-b").await;
    stack.wait_finished(&earlier).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut tab, _) = stack.connect(&format!("?jobs={earlier}")).await;
    let story = until_finished(&mut tab).await;
    assert_whole_story(&stack, &earlier, &story);

    // A resume of that tab sends none of it again.
    let last = story.last().unwrap().id.clone();
    drop(tab);
    let mut resumed = SseClient::connect_with(
        &stack.url(&format!("/api/v1/sse/connect?jobs={earlier}")),
        &[("last-event-id", &last)],
    )
    .await
    .unwrap();
    assert_eq!(
        resumed.next_event(WAIT).await.unwrap().json()["resumed"],
        true
    );
    assert!(
        resumed
            .next_named("job_update", Duration::from_millis(500))
            .await
            .is_err(),
        "nothing twice after a resume"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_with_trimmed_history_shows_its_record_then_live_events() {
    let stack = Stack::start().await;
    let job = stack.add("resume-c").await;
    stack.wait_finished(&job).await;
    let key = format!("sse:hist:{{job:{job}}}");
    stack.redis.cli(&["XTRIM", &key, "MAXLEN", "2"]);
    let newest = stack.history_ids(&job).pop().unwrap();

    let (mut stream, _) = stack.connect(&format!("?jobs={job}")).await;
    let snapshot = stream.next_named("job_update", WAIT).await.unwrap();
    let data = snapshot.json();
    assert_eq!(data["snapshot"], true);
    assert_eq!(data["status"], "completed");
    assert_eq!(data["progress"], 100);
    assert_eq!(data["resumeId"], "resume-c");
    assert_eq!(
        data["result"]["summary"], true,
        "the completed event's summary, from the record: {data}"
    );
    assert_eq!(
        data["resultUrl"],
        format!("/api/v1/jobs/{job}/result").as_str(),
        "and where the full result is"
    );
    assert_eq!(
        data["eventId"],
        newest.as_str(),
        "stands at the newest event"
    );

    // Live events follow (here one published through the API, as a backend would).
    let (status, body) = stack
        .post(
            &format!("/api/v1/publish/job/{job}"),
            Some(
                json!({"type": "job_update", "jobId": job, "status": "completed",
                "progress": 100, "message": "re-scored"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let live = stream.next_named("job_update", WAIT).await.unwrap().json();
    assert_eq!(live["message"], "re-scored");
    assert_eq!(live.get("snapshot"), None);
}
