//! What the queue's test suites share: a queue on its own redis-server, consumers on clients
//! of their own, jobs of one organisation or another.
#![allow(clippy::unwrap_used, dead_code)] // helpers; not every suite uses every one

use std::time::Duration;

use job_queue::consumer::Delivery;
use job_queue::{Claimed, Consumer, ConsumerOptions, JobOptions, NewJob, Queue};
use serde_json::json;
use service_runtime::redis::RedisOptions;
use test_support::RedisServer;

pub struct Setup {
    pub redis: RedisServer,
    pub queue: Queue,
}

pub async fn setup() -> Setup {
    let redis = RedisServer::start();
    let client = RedisOptions::new(redis.url())
        .connect_client()
        .await
        .unwrap();
    Setup {
        queue: Queue::new(client, "resume-analysis"),
        redis,
    }
}

impl Setup {
    /// The same queue through a client of its own (as the gateway has).
    pub async fn other_queue(&self) -> Queue {
        let client = RedisOptions::new(self.redis.url())
            .connect_client()
            .await
            .unwrap();
        Queue::new(client, "resume-analysis")
    }

    pub async fn consumer(&self, name: &str) -> Consumer {
        self.consumer_with(name, Duration::from_secs(30), None)
            .await
    }

    pub async fn consumer_with(
        &self,
        name: &str,
        visibility: Duration,
        organisation_concurrency: Option<u32>,
    ) -> Consumer {
        let client = RedisOptions::new(self.redis.url())
            .connect_client()
            .await
            .unwrap();
        let reader = RedisOptions::new(self.redis.url())
            .connect_client()
            .await
            .unwrap();
        Consumer::new(
            Queue::new(client, "resume-analysis"),
            reader,
            ConsumerOptions {
                consumer: name.into(),
                visibility_timeout: visibility,
                job_ttl: Duration::from_secs(3600),
                max_reclaims: 1,
                organisation_concurrency,
            },
        )
        .await
        .unwrap()
    }

    pub fn cli(&self, args: &[&str]) -> String {
        self.redis.cli(args)
    }

    pub fn stream_len(&self) -> u64 {
        self.cli(&["XLEN", &self.queue.keys().stream()])
            .parse()
            .unwrap()
    }

    pub fn ttl(&self, job_id: &str) -> i64 {
        self.cli(&["TTL", &self.queue.keys().job(job_id)])
            .parse()
            .unwrap()
    }

    pub async fn add(&self, job_id: &str, organisation: Option<&str>) {
        self.add_with(job_id, organisation, JobOptions::default())
            .await;
    }

    pub async fn add_with(&self, job_id: &str, organisation: Option<&str>, options: JobOptions) {
        let added = self
            .queue
            .add(job_id, &job(organisation), &options)
            .await
            .unwrap();
        assert!(added.created, "{job_id} added");
    }
}

pub fn job(organisation: Option<&str>) -> NewJob {
    NewJob {
        name: "analyze-resume".into(),
        data: json!({"resumeId": "r1"}),
        organisation_id: organisation.map(str::to_owned),
        traceparent: None,
    }
}

pub fn options(attempts: u32, backoff_ms: u64) -> JobOptions {
    JobOptions {
        attempts,
        backoff: Duration::from_millis(backoff_ms),
        ..JobOptions::default()
    }
}

/// Reads until a job is delivered to run (at most 5 s).
pub async fn next_job(consumer: &Consumer) -> Claimed {
    for _ in 0..50 {
        let mut delivered = consumer
            .read_new(1, Duration::from_millis(100))
            .await
            .unwrap();
        if let Some(Delivery::Run(claimed)) = delivered.pop() {
            return claimed;
        }
    }
    panic!("no job delivered");
}

/// Whatever one read delivers (nothing after `block`).
pub async fn read_once(consumer: &Consumer, block_ms: u64) -> Vec<Delivery> {
    consumer
        .read_new(1, Duration::from_millis(block_ms))
        .await
        .unwrap()
}
