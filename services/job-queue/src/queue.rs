//! The producer side and read access: add jobs, read a job, read counts, keep uploads.

use std::collections::HashMap;
use std::time::Duration;

use fred::prelude::{Client, HashesInterface, KeysInterface};
use fred::types::scripts::Script;
use fred::types::{Expiration, FromValue, Value};
use progress_contract::time::now_millis;

use crate::error::QueueError;
use crate::job::{AddOutcome, JobOptions, JobRecord, JobState, NewJob};
use crate::keys::Keys;
use crate::scripts;

/// What became of an upload offered to [`Queue::store_file_within`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Kept; `pending` bytes of the organisation's uploads now wait, this one included.
    Stored { pending: u64 },
    /// Refused: `pending` bytes already wait.
    OverQuota { pending: u64 },
}

/// One named queue. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    client: Client,
    name: String,
    keys: Keys,
}

impl Queue {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            keys: Keys::new(&name),
            client,
            name,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Adds a job. With a caller-chosen id that already exists, returns the existing job's
    /// state and enqueues nothing.
    pub async fn add(
        &self,
        job_id: &str,
        job: &NewJob,
        options: &JobOptions,
    ) -> Result<AddOutcome, QueueError> {
        let now = now_millis();
        let due = now + u64::try_from(options.delay.as_millis()).unwrap_or(u64::MAX / 2);
        let mut args = vec![
            job_id.to_owned(),
            due.to_string(),
            now.to_string(),
            self.keys.prefix(),
        ];
        let mut field = |name: &str, value: String| {
            args.push(name.to_owned());
            args.push(value);
        };
        field("id", job_id.to_owned());
        field("name", job.name.clone());
        field("queue", self.name.clone());
        field("data", serde_json::to_string(&job.data)?);
        field("attempts", "0".into());
        field("maxAttempts", options.attempts.max(1).to_string());
        field(
            "backoffMs",
            u64::try_from(options.backoff.as_millis())
                .unwrap_or(u64::MAX)
                .to_string(),
        );
        field("progress", "0".into());
        field("createdAt", now.to_string());
        field("updatedAt", now.to_string());
        if let Some(org) = &job.organisation_id {
            field("organisationId", org.clone());
        }
        if let Some(traceparent) = &job.traceparent {
            field("traceparent", traceparent.clone());
        }
        if options.priority > 0 {
            field(
                "priority",
                options.priority.min(crate::job::MAX_PRIORITY).to_string(),
            );
        }
        let mut keys = vec![
            self.keys.job(job_id),
            self.keys.stream(),
            self.keys.delayed(),
            self.keys.counts(),
        ];
        keys.extend(crate::listing::index_keys(&self.keys, job));
        let reply: Value = scripts::ADD
            .evalsha_with_reload(&self.client, keys, args)
            .await?;
        let (created, state) = match reply {
            Value::Array(items) if items.len() == 2 => (
                items[0].as_i64() == Some(1),
                items[1].as_string().unwrap_or_default(),
            ),
            other => return Err(QueueError::Reply(format!("add returned {other:?}"))),
        };
        Ok(AddOutcome {
            job_id: job_id.to_owned(),
            state: JobState::parse(&state).unwrap_or(JobState::Waiting),
            created,
        })
    }

    /// Runs one of the scripts that change job `job_id` from outside a worker (cancel, retry,
    /// delete): KEYS is the job's hash; ARGV the queue's key prefix, the job id, then `extra`.
    pub(crate) async fn run_job_script<R: FromValue>(
        &self,
        script: &Script,
        job_id: &str,
        extra: Vec<String>,
    ) -> Result<R, QueueError> {
        let mut args = vec![self.keys.prefix(), job_id.to_owned()];
        args.extend(extra);
        Ok(script
            .evalsha_with_reload(&self.client, vec![self.keys.job(job_id)], args)
            .await?)
    }

    /// Whether a job with this id exists (in any state, until it expires).
    pub async fn exists(&self, job_id: &str) -> Result<bool, QueueError> {
        let found: i64 = self.client.exists(self.keys.job(job_id)).await?;
        Ok(found > 0)
    }

    /// The job, or `None` when unknown or expired.
    pub async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, QueueError> {
        let hash: HashMap<String, String> = self.client.hgetall(self.keys.job(job_id)).await?;
        Ok(JobRecord::from_hash(&self.name, hash))
    }

    /// Records the current stage and progress of a running job.
    pub async fn set_progress(
        &self,
        job_id: &str,
        stage: &str,
        progress: u8,
    ) -> Result<(), QueueError> {
        let now = now_millis().to_string();
        let _: () = self
            .client
            .hset(
                self.keys.job(job_id),
                [
                    ("stage", stage.to_owned()),
                    ("progress", progress.to_string()),
                    ("updatedAt", now),
                ],
            )
            .await?;
        Ok(())
    }

    /// Keeps an uploaded file for the job that will analyse it, unless `organisation`'s
    /// files still waiting for analysis would then exceed `max_pending` bytes.
    pub async fn store_file_within(
        &self,
        organisation: &str,
        job_id: &str,
        bytes: Vec<u8>,
        ttl: Duration,
        max_pending: u64,
    ) -> Result<StoreOutcome, QueueError> {
        let reply: Value = scripts::STORE_FILE
            .evalsha_with_reload(
                &self.client,
                vec![self.keys.file(job_id), self.keys.uploads(organisation)],
                vec![
                    Value::from(job_id),
                    Value::from(ttl.as_secs().max(1) as i64),
                    Value::from(i64::try_from(max_pending).unwrap_or(i64::MAX)),
                    Value::from(self.keys.file_prefix()),
                    Value::Bytes(bytes.into()),
                ],
            )
            .await?;
        let (stored, pending) = match &reply {
            Value::Array(items) if items.len() == 2 => (
                items[0].as_i64().unwrap_or(0) == 1,
                items[1].as_u64().unwrap_or(0),
            ),
            other => return Err(QueueError::Reply(format!("script returned {other:?}"))),
        };
        Ok(if stored {
            StoreOutcome::Stored { pending }
        } else {
            StoreOutcome::OverQuota { pending }
        })
    }

    /// Keeps an uploaded file for the job that will analyse it.
    pub async fn store_file(
        &self,
        job_id: &str,
        bytes: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), QueueError> {
        let seconds = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
        let _: () = self
            .client
            .set(
                self.keys.file(job_id),
                Value::Bytes(bytes.into()),
                Some(Expiration::EX(seconds)),
                None,
                false,
            )
            .await?;
        Ok(())
    }

    pub async fn load_file(&self, job_id: &str) -> Result<Option<Vec<u8>>, QueueError> {
        let value: Value = self.client.get(self.keys.file(job_id)).await?;
        Ok(match value {
            Value::Bytes(bytes) => Some(bytes.to_vec()),
            Value::String(text) => Some(text.as_bytes().to_vec()),
            _ => None,
        })
    }

    pub async fn delete_file(&self, job_id: &str) -> Result<(), QueueError> {
        let _: i64 = self.client.del(self.keys.file(job_id)).await?;
        Ok(())
    }
}
