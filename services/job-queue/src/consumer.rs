//! A worker's side of the queue. Each step is one atomic script, so a worker can stop at any
//! point and the job is still either waiting, running elsewhere, reclaimable, or finished.

use std::time::Duration;

use fred::prelude::{Client, ClientLike, StreamsInterface};
use fred::types::{ClusterHash, CustomCommand, Value};
use progress_contract::time::now_millis;

use crate::GROUP;
use crate::error::QueueError;
use crate::job::JobRecord;
use crate::queue::Queue;
use crate::reply::{self, Entry};
use crate::scripts;

/// How a consumer behaves.
#[derive(Clone, Debug)]
pub struct ConsumerOptions {
    /// Unique name of this consumer in the group (the worker id).
    pub consumer: String,
    /// A job whose worker has not shown life for this long is given to another worker.
    pub visibility_timeout: Duration,
    /// How long finished jobs are kept.
    pub job_ttl: Duration,
    /// Takeovers from stopped workers a job survives; one more and it is dead-lettered
    /// with the code `worker_lost`. Takeovers do not use up the job's attempts.
    pub max_reclaims: u32,
    /// Cap of one organisation's jobs running (or handed to the stream) at once, across all
    /// workers of the queue; `None` for no cap. The workers record it in the queue's settings
    /// (the last one started wins), so the gateway's feeding honours it too.
    pub organisation_concurrency: Option<u32>,
}

/// A job this consumer now runs.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub job: JobRecord,
    pub entry_id: String,
    /// 1-based attempt number.
    pub attempt: u32,
}

/// What a delivered entry turned out to be.
#[derive(Clone, Debug)]
pub enum Delivery {
    /// Run it.
    Run(Claimed),
    /// Its workers stopped too many times; it was dead-lettered as failed.
    Abandoned(JobRecord),
    /// A cancel was requested while it ran on a worker that stopped: it was ended as
    /// cancelled here, and the caller publishes the final event.
    Cancelled(JobRecord),
}

/// What happened to a failed attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailOutcome {
    /// Another attempt runs after `delay`.
    Retry { attempt: u32, delay: Duration },
    /// No attempts left (or the failure is permanent): the job is failed and dead-lettered.
    Dead { attempts: u32 },
    /// The job had already finished elsewhere; nothing changed.
    Ignored,
    /// A cancel was requested while the attempt ran: the job ended cancelled (not retried,
    /// not dead-lettered) and the caller publishes the final event.
    Cancelled,
}

/// Reads and runs jobs of one queue.
#[derive(Clone)]
pub struct Consumer {
    queue: Queue,
    /// Dedicated connection for blocking reads, so they never delay other commands.
    reader: Client,
    options: ConsumerOptions,
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Consumer {
    /// `reader` should be a client of its own: `read_new` blocks it.
    pub async fn new(
        queue: Queue,
        reader: Client,
        options: ConsumerOptions,
    ) -> Result<Self, QueueError> {
        let consumer = Self {
            queue,
            reader,
            options,
        };
        consumer.ensure_group().await?;
        Ok(consumer)
    }

    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    pub fn options(&self) -> &ConsumerOptions {
        &self.options
    }

    /// Creates the consumer group (and the stream) if missing, and records this worker's
    /// settings that scripts run by others (the gateway's cancel, feeding) need.
    pub async fn ensure_group(&self) -> Result<(), QueueError> {
        self.record_settings().await?;
        let result: Result<Value, _> = self
            .queue
            .client()
            .xgroup_create(self.queue.keys().stream(), GROUP, "0", true)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.details().contains("BUSYGROUP") => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Waits up to `block` for new jobs and claims at most `max` of them.
    pub async fn read_new(&self, max: usize, block: Duration) -> Result<Vec<Delivery>, QueueError> {
        let stream = self.queue.keys().stream();
        let args: Vec<Value> = vec![
            "GROUP".into(),
            GROUP.into(),
            self.options.consumer.as_str().into(),
            "COUNT".into(),
            (max.max(1) as i64).into(),
            "BLOCK".into(),
            (millis(block) as i64).into(),
            "STREAMS".into(),
            stream.as_str().into(),
            ">".into(),
        ];
        let command = CustomCommand::new_static("XREADGROUP", ClusterHash::Offset(8), true);
        let reply: Value = match self.reader.custom(command.clone(), args.clone()).await {
            Ok(reply) => reply,
            // The stream or group vanished (e.g. Redis restarted empty): recreate, retry once.
            Err(error) if error.details().contains("NOGROUP") => {
                self.ensure_group().await?;
                self.reader.custom(command, args).await?
            }
            Err(error) => return Err(error.into()),
        };
        self.claim_all(reply::read_group(&reply)).await
    }

    /// Takes over jobs whose worker has been silent longer than the visibility timeout.
    pub async fn reclaim(&self, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let args: Vec<Value> = vec![
            self.queue.keys().stream().as_str().into(),
            GROUP.into(),
            self.options.consumer.as_str().into(),
            (millis(self.options.visibility_timeout) as i64).into(),
            "0-0".into(),
            "COUNT".into(),
            (max.max(1) as i64).into(),
        ];
        let command = CustomCommand::new_static("XAUTOCLAIM", ClusterHash::FirstKey, false);
        let reply: Value = self.queue.client().custom(command, args).await?;
        let (_, entries) = reply::auto_claim(&reply);
        self.claim_all(entries).await
    }

    async fn claim_all(&self, entries: Vec<Entry>) -> Result<Vec<Delivery>, QueueError> {
        let mut deliveries = Vec::with_capacity(entries.len());
        for entry in entries {
            if let Some(delivery) = self.claim(entry).await? {
                deliveries.push(delivery);
            }
        }
        Ok(deliveries)
    }

    async fn claim(&self, entry: Entry) -> Result<Option<Delivery>, QueueError> {
        let keys = self.queue.keys();
        let Some(job_id) = entry.job_id else {
            let _: i64 = self
                .queue
                .client()
                .xack(keys.stream(), GROUP, &entry.entry_id)
                .await?;
            return Ok(None);
        };
        let reply: Value = scripts::CLAIM
            .evalsha_with_reload(
                self.queue.client(),
                vec![keys.job(&job_id), keys.stream(), keys.counts(), keys.dead()],
                vec![
                    GROUP.to_owned(),
                    entry.entry_id.clone(),
                    self.options.consumer.clone(),
                    now_millis().to_string(),
                    job_id.clone(),
                    self.options.job_ttl.as_secs().max(1).to_string(),
                    self.options.max_reclaims.to_string(),
                    keys.prefix(),
                ],
            )
            .await?;
        let (verdict, attempt) = verdict(&reply)?;
        let Some(job) = self.queue.get(&job_id).await? else {
            return Ok(None);
        };
        Ok(match verdict.as_str() {
            "run" => Some(Delivery::Run(Claimed {
                job,
                entry_id: entry.entry_id,
                attempt: attempt as u32,
            })),
            "dead" => Some(Delivery::Abandoned(job)),
            "cancelled" => Some(Delivery::Cancelled(job)),
            _ => None,
        })
    }

    /// Resets the idle time of a running job so it is not reclaimed while it makes progress.
    pub async fn keep_alive(&self, claimed: &Claimed) -> Result<(), QueueError> {
        let _: Value = self
            .queue
            .client()
            .xclaim(
                self.queue.keys().stream(),
                GROUP,
                self.options.consumer.as_str(),
                0,
                claimed.entry_id.as_str(),
                None,
                None,
                None,
                false,
                true,
            )
            .await?;
        Ok(())
    }

    /// Records a failed attempt, `code` being the error's machine-readable kind.
    /// `permanent` failures (bad input) are not retried.
    pub async fn fail(
        &self,
        claimed: &Claimed,
        error: &str,
        code: &str,
        permanent: bool,
    ) -> Result<FailOutcome, QueueError> {
        let keys = self.queue.keys();
        let job_id = &claimed.job.job_id;
        let delay = claimed.job.retry_delay(claimed.attempt);
        let now = now_millis();
        let reply: Value = scripts::FAIL
            .evalsha_with_reload(
                self.queue.client(),
                vec![
                    keys.job(job_id),
                    keys.stream(),
                    keys.counts(),
                    keys.delayed(),
                    keys.dead(),
                ],
                vec![
                    GROUP.to_owned(),
                    claimed.entry_id.clone(),
                    now.to_string(),
                    error.to_owned(),
                    self.options.job_ttl.as_secs().max(1).to_string(),
                    if permanent { "1" } else { "0" }.to_owned(),
                    job_id.clone(),
                    (now + millis(delay)).to_string(),
                    code.to_owned(),
                    keys.prefix(),
                ],
            )
            .await?;
        let (verdict, attempts) = verdict(&reply)?;
        Ok(match verdict.as_str() {
            "retry" => FailOutcome::Retry {
                attempt: attempts as u32,
                delay,
            },
            "dead" => FailOutcome::Dead {
                attempts: attempts as u32,
            },
            "cancelled" => FailOutcome::Cancelled,
            _ => FailOutcome::Ignored,
        })
    }

    /// Moves retries that are due back onto the stream; returns how many moved.
    pub async fn promote_due(&self, limit: usize) -> Result<u64, QueueError> {
        let keys = self.queue.keys();
        let moved: i64 = scripts::PROMOTE
            .evalsha_with_reload(
                self.queue.client(),
                vec![keys.delayed(), keys.stream(), keys.counts()],
                vec![
                    now_millis().to_string(),
                    limit.to_string(),
                    keys.job_prefix(),
                    keys.prefix(),
                ],
            )
            .await?;
        Ok(moved.max(0) as u64)
    }

    /// Checks both clients are connected.
    pub fn is_connected(&self) -> bool {
        self.reader.is_connected() && self.queue.client().is_connected()
    }
}

pub(crate) fn verdict(reply: &Value) -> Result<(String, i64), QueueError> {
    match reply {
        Value::Array(items) if items.len() == 2 => Ok((
            items[0].as_string().unwrap_or_default(),
            items[1].as_i64().unwrap_or(0),
        )),
        other => Err(QueueError::Reply(format!("script returned {other:?}"))),
    }
}
