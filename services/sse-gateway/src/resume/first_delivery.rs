//! What a new subscription is sent before its live events, so that a late subscriber misses
//! nothing (the original frontends add a job, then subscribe to it):
//!
//! - a job channel: the job's story so far from its history, in order, with its ids; when the
//!   history no longer reaches the job's start (trimmed by `HISTORY_MAXLEN`, expired by
//!   `HISTORY_TTL`) but the job's record exists, one `job_update` snapshot of the record;
//! - a queue channel: the queue's current counts, as a `queue_update`;
//! - a worker channel: the worker's latest `worker_status`, while it is alive.
//!
//! Reading takes two steps, each one command per channel sent together, so a request that
//! subscribes many channels costs two round trips whatever their number: [`FirstDelivery::read`],
//! then [`FirstDelivery::complete`] for the jobs that need their records, sent alongside the
//! session's write. The hub queues the result while the channel's live events are held (see
//! `Hub::subscribe_channels`).

use futures::future::try_join_all;
use job_queue::{Queue, QueueError, WorkerRegistry};
use progress_contract::events::ProgressEvent;
use progress_contract::history::StreamId;
use progress_contract::{Channel, ChannelKind};

use crate::resume::history::{HistoryReader, Story};

/// Where a plan's first events come from (the `source` label of its metric).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The job's history from its start.
    History,
    /// A snapshot of the job's record.
    Snapshot,
    /// The queue's counts or the worker's status, read now.
    State,
    /// Nothing to send (live only, or nothing known yet).
    None,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::History => "history",
            Source::Snapshot => "snapshot",
            Source::State => "state",
            Source::None => "none",
        }
    }
}

/// What one new subscription of a stream gets before its live events.
#[derive(Debug)]
pub struct Plan {
    pub channel: Channel,
    /// Events with their history ids, oldest first (a snapshot that stands for a trimmed
    /// history carries the newest id the history has).
    pub events: Vec<(StreamId, String)>,
    /// An event without a history id: a queue's counts, a worker's status, or the snapshot of
    /// a job with no history left.
    pub state: Option<String>,
    /// The session's resume point for the channel until a position is flushed: a resume
    /// replays what history holds after it.
    pub since: StreamId,
    /// Some of the job's events are gone and it has no record to stand for them: the client
    /// should refetch (`resync`).
    pub resync: bool,
    pub source: Source,
    /// The job's record is still to be read.
    needs_record: bool,
}

impl Plan {
    fn new(channel: &Channel, since: StreamId) -> Self {
        Self {
            channel: channel.clone(),
            events: Vec::new(),
            state: None,
            since,
            resync: false,
            source: Source::None,
            needs_record: false,
        }
    }

    /// A job channel's plan from its story. A story from the job's first event is sent
    /// whole, and a resume before the first position flush replays from the start too (twice
    /// rather than never); otherwise the plan waits for the job's record
    /// ([`Plan::complete_with`]) and resumes after the newest event.
    pub fn from_story(channel: &Channel, story: Story) -> Self {
        if story.exists && story.complete {
            let mut plan = Plan::new(channel, StreamId::ZERO);
            plan.events = story.events;
            plan.source = Source::History;
            return plan;
        }
        let newest = story.events.into_iter().last();
        let since = newest.as_ref().map_or(StreamId::ZERO, |(id, _)| *id);
        let mut plan = Plan::new(channel, since);
        plan.events.extend(newest);
        plan.needs_record = true;
        plan
    }

    /// A plan live only: it starts after `since`, where the history stands.
    pub fn live_only(channel: &Channel, since: StreamId) -> Self {
        Plan::new(channel, since)
    }

    /// Ends a plan whose story does not reach the job's start with the job's record as a
    /// snapshot (`None`: the job has no record).
    pub fn complete_with(&mut self, record: Option<String>) {
        if !std::mem::take(&mut self.needs_record) {
            return;
        }
        match (record, self.events.pop()) {
            (Some(snapshot), Some((id, _))) => {
                self.events.push((id, snapshot));
                self.source = Source::Snapshot;
            }
            (Some(snapshot), None) => {
                self.state = Some(snapshot);
                self.source = Source::Snapshot;
            }
            // No record: what is left of the history, and a hint that some is missing.
            (None, Some(newest)) => {
                self.events.push(newest);
                self.resync = true;
                self.source = Source::History;
            }
            // Nothing known yet (a client may subscribe before it adds the job).
            (None, None) => {}
        }
    }

    /// The redis channel name.
    pub fn name(&self) -> String {
        self.channel.redis_name()
    }
}

/// Reads what new subscriptions are sent first.
#[derive(Clone)]
pub struct FirstDelivery {
    history: HistoryReader,
    queues: Vec<Queue>,
    registry: WorkerRegistry,
    max_event_bytes: usize,
}

fn redis_error(error: QueueError) -> fred::error::Error {
    match error {
        QueueError::Redis(error) => error,
        other => fred::error::Error::new(fred::error::ErrorKind::Parse, other.to_string()),
    }
}

impl FirstDelivery {
    pub fn new(
        history: HistoryReader,
        queues: Vec<Queue>,
        registry: WorkerRegistry,
        max_event_bytes: usize,
    ) -> Self {
        Self {
            history,
            queues,
            registry,
            max_event_bytes,
        }
    }

    /// The first step for `channels`; with `replay` false (live only), just where each
    /// channel's history stands.
    pub async fn read(
        &self,
        channels: &[Channel],
        replay: bool,
    ) -> Result<Vec<Plan>, fred::error::Error> {
        try_join_all(
            channels
                .iter()
                .map(|channel| self.read_one(channel, replay)),
        )
        .await
    }

    /// The queues a job's record is looked up in, in order.
    pub(super) fn queues(&self) -> &[Queue] {
        &self.queues
    }

    async fn latest(&self, name: &str) -> Result<StreamId, fred::error::Error> {
        Ok(self.history.latest(name).await?.unwrap_or(StreamId::ZERO))
    }

    async fn read_one(&self, channel: &Channel, replay: bool) -> Result<Plan, fred::error::Error> {
        let name = channel.redis_name();
        if !replay {
            return Ok(Plan::live_only(channel, self.latest(&name).await?));
        }
        match channel.kind() {
            ChannelKind::Job => Ok(Plan::from_story(channel, self.history.story(&name).await?)),
            ChannelKind::Queue => {
                let queue = self.queues.iter().find(|q| q.name() == channel.id());
                let counts = async {
                    match queue {
                        Some(queue) => queue.counts().await.map(Some).map_err(redis_error),
                        None => Ok(None),
                    }
                };
                let (since, counts) = tokio::try_join!(self.latest(&name), counts)?;
                let mut plan = Plan::new(channel, since);
                if let Some(counts) = counts {
                    let update = counts.update(channel.id());
                    plan.state = Some(event_json(ProgressEvent::QueueUpdate(update)));
                    plan.source = Source::State;
                }
                Ok(plan)
            }
            ChannelKind::Worker => {
                let status = async {
                    self.registry
                        .status(channel.id())
                        .await
                        .map_err(redis_error)
                };
                let (since, status) = tokio::try_join!(self.latest(&name), status)?;
                let mut plan = Plan::new(channel, since);
                if let Some(status) = status {
                    plan.state = Some(event_json(ProgressEvent::WorkerStatus(status)));
                    plan.source = Source::State;
                }
                Ok(plan)
            }
        }
    }

    /// The second step: the jobs whose history does not reach their start are looked up in
    /// every queue; a record found becomes a snapshot standing for the history.
    pub async fn complete(&self, plans: &mut [Plan]) -> Result<(), fred::error::Error> {
        let lookups = plans
            .iter()
            .filter(|plan| plan.needs_record)
            .map(|plan| self.record(plan.channel.id()));
        let mut records = try_join_all(lookups).await?.into_iter();
        for plan in plans.iter_mut().filter(|plan| plan.needs_record) {
            plan.complete_with(records.next().flatten());
        }
        Ok(())
    }

    /// The snapshot of job `job_id` from the first queue that has it.
    async fn record(&self, job_id: &str) -> Result<Option<String>, fred::error::Error> {
        let found = try_join_all(self.queues.iter().map(|queue| queue.get(job_id)))
            .await
            .map_err(redis_error)?;
        Ok(found
            .into_iter()
            .flatten()
            .next()
            .map(|job| self.snapshot(&job)))
    }

    /// The record as a `job_update`; a result too large for one event is left out (the
    /// message says where it is).
    pub(super) fn snapshot(&self, job: &job_queue::JobRecord) -> String {
        let mut update = job.snapshot_update();
        let json = event_json(ProgressEvent::JobUpdate(update.clone()));
        if json.len() <= self.max_event_bytes.saturating_sub(64) {
            return json;
        }
        update.result = None;
        update.message = Some(format!(
            "{}; the result is too large for an event: GET /api/v1/jobs/{}",
            update.message.as_deref().unwrap_or_default(),
            job.job_id
        ));
        event_json(ProgressEvent::JobUpdate(update))
    }
}

/// An event as workers publish it (`"type"` first).
fn event_json(event: ProgressEvent) -> String {
    serde_json::to_string(&event).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_written_with_their_type_first() {
        let update = progress_contract::QueueUpdate {
            queue_name: "q".into(),
            waiting: 2,
            ..Default::default()
        };
        let json = event_json(ProgressEvent::QueueUpdate(update));
        assert!(json.starts_with(r#"{"type":"queue_update","#), "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["waiting"], 2);
        assert_eq!(value["queueName"], "q");
    }
}
