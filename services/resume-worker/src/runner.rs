//! The job loop: take jobs up to the concurrency limit, keep each claim alive while it runs,
//! store its outcome, and on shutdown stop taking jobs and let running ones finish.

use std::sync::Arc;
use std::time::Duration;

use job_queue::consumer::Delivery;
use job_queue::{Claimed, Consumer, CountsReporter, FailOutcome, Finish, JobRecord, QueueError};
use progress_contract::events::Stage;
use progress_contract::jobs::ResumeJobData;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::cancel::CancelWatch;
use crate::metrics as m;
use crate::pipeline::{Interrupted, Pipeline};
use crate::presence::Presence;
use crate::progress::JobProgress;

/// What became of one delivered job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Completed {
        job_id: String,
    },
    /// It had already been completed by another worker; this run's result was discarded.
    Duplicate {
        job_id: String,
    },
    Retrying {
        job_id: String,
        attempt: u32,
        delay: Duration,
    },
    Failed {
        job_id: String,
        error: String,
    },
    /// The job finished elsewhere while this attempt failed.
    Ignored {
        job_id: String,
    },
    /// A cancel was requested: the job ended as cancelled and its final event went out.
    Cancelled {
        job_id: String,
    },
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Completed { .. } => "completed",
            Outcome::Duplicate { .. } => "duplicate",
            Outcome::Retrying { .. } => "retrying",
            Outcome::Failed { .. } => "failed",
            Outcome::Ignored { .. } => "ignored",
            Outcome::Cancelled { .. } => "cancelled",
        }
    }
}

/// Runs jobs of one queue.
pub struct Runner {
    pub consumer: Consumer,
    pub pipeline: Pipeline,
    pub reporter: CountsReporter,
    pub presence: Arc<Presence>,
    pub concurrency: usize,
    /// How often a slow stage (download, document read) checks for a cancel.
    pub cancel_check_interval: Duration,
}

impl Runner {
    /// Reads at most one job (waiting up to `block`) and runs it to its outcome. The loop
    /// uses the same steps; tests call this to drive the worker one job at a time.
    pub async fn try_execute_job(&self, block: Duration) -> Result<Option<Outcome>, QueueError> {
        let mut deliveries = self.consumer.read_new(1, block).await?;
        match deliveries.pop() {
            Some(delivery) => Ok(Some(self.execute(delivery).await)),
            None => Ok(None),
        }
    }

    /// Runs one delivered job to its outcome.
    pub async fn execute(&self, delivery: Delivery) -> Outcome {
        let claimed = match delivery {
            Delivery::Run(claimed) => claimed,
            Delivery::Abandoned(job) => {
                let data: ResumeJobData =
                    serde_json::from_value(job.data.clone()).unwrap_or_default();
                let error = job.error.clone().unwrap_or_else(|| "abandoned".into());
                let code = job
                    .error_code
                    .as_deref()
                    .unwrap_or(progress_contract::failure_codes::WORKER_LOST);
                self.progress(&job.job_id, &data, job.attempts)
                    .failed(&error, code, None)
                    .instrument(job_span(&job))
                    .await;
                self.discard_upload(&job.job_id, &data).await;
                self.reporter.changed();
                metrics::counter!(m::JOBS, "outcome" => "failed").increment(1);
                return Outcome::Failed {
                    job_id: job.job_id,
                    error,
                };
            }
            // Claimed after a cancel was requested: the queue ended it as cancelled.
            Delivery::Cancelled(job) => {
                let data: ResumeJobData =
                    serde_json::from_value(job.data.clone()).unwrap_or_default();
                let stage = job.stage.as_deref().and_then(Stage::parse);
                self.progress(&job.job_id, &data, job.attempts)
                    .cancelled(stage)
                    .instrument(job_span(&job))
                    .await;
                self.reporter.changed();
                metrics::counter!(m::JOBS, "outcome" => "cancelled").increment(1);
                return Outcome::Cancelled { job_id: job.job_id };
            }
        };
        if claimed.attempt > 1 {
            tracing::info!(job.id = %claimed.job.job_id, attempt = claimed.attempt, "running a retried or reclaimed job");
        }
        self.reporter.changed();
        self.presence.started(&claimed.job.job_id);
        metrics::gauge!(m::IN_FLIGHT).increment(1.0);
        let started = std::time::Instant::now();
        let span = job_span(&claimed.job);
        let outcome = self.run_claimed(&claimed).instrument(span.clone()).await;
        if matches!(outcome, Outcome::Failed { .. }) {
            span.record("otel.status_code", "ERROR");
        }
        metrics::histogram!(m::JOB_DURATION).record(started.elapsed().as_secs_f64());
        metrics::gauge!(m::IN_FLIGHT).decrement(1.0);
        metrics::counter!(m::JOBS, "outcome" => outcome.label()).increment(1);
        self.presence.finished(&claimed.job.job_id);
        self.reporter.changed();
        outcome
    }

    fn progress<'a>(
        &'a self,
        job_id: &'a str,
        data: &'a ResumeJobData,
        attempt: u32,
    ) -> JobProgress<'a> {
        JobProgress {
            publisher: &self.pipeline.publisher,
            queue: &self.pipeline.queue,
            job_id,
            data,
            attempt,
        }
    }

    /// Deletes the uploaded file of a job that will not run again.
    async fn discard_upload(&self, job_id: &str, data: &ResumeJobData) {
        if data.uploaded
            && let Err(error) = self.pipeline.queue.delete_file(job_id).await
        {
            tracing::warn!(%error, job.id = job_id, "deleting the uploaded file failed");
        }
    }

    /// A running job ended as cancelled: its final event. An uploaded file stays (until
    /// `UPLOAD_TTL`), as for a job cancelled while waiting, so the job can be run again.
    async fn cancelled(&self, progress: &JobProgress<'_>, stage: Option<Stage>) -> Outcome {
        tracing::info!(job.id = progress.job_id, "job cancelled");
        progress.cancelled(stage).await;
        Outcome::Cancelled {
            job_id: progress.job_id.to_owned(),
        }
    }

    async fn run_claimed(&self, claimed: &Claimed) -> Outcome {
        let job_id = claimed.job.job_id.clone();
        let alive = CancellationToken::new();
        let keep_alive = tokio::spawn(keep_alive(
            self.consumer.clone(),
            claimed.clone(),
            alive.clone(),
        ));
        let cancel = CancelWatch {
            consumer: &self.consumer,
            claimed,
            every: self.cancel_check_interval,
        };
        let result = self.pipeline.run(claimed, &cancel).await;
        alive.cancel();
        let _ = keep_alive.await;
        let data: ResumeJobData =
            serde_json::from_value(claimed.job.data.clone()).unwrap_or_default();
        let progress = self.progress(&job_id, &data, claimed.attempt);
        match result {
            Ok(analysed) => match self
                .consumer
                .finish(
                    claimed,
                    &analysed.result,
                    serde_json::to_value(&analysed.summary).ok().as_ref(),
                )
                .await
            {
                Ok(Finish::Completed) => {
                    progress.completed(&analysed.summary).await;
                    self.discard_upload(&job_id, &data).await;
                    Outcome::Completed { job_id }
                }
                Ok(Finish::Duplicate) => Outcome::Duplicate { job_id },
                Ok(Finish::Cancelled) => self.cancelled(&progress, Some(Stage::Storing)).await,
                Err(error) => {
                    // The claim stays pending: another worker reclaims and redoes it.
                    tracing::error!(%error, job.id = %job_id, "storing the result failed");
                    Outcome::Ignored { job_id }
                }
            },
            Err(Interrupted::Cancelled { stage }) => {
                match self.consumer.cancel_running(claimed).await {
                    Ok(true) => self.cancelled(&progress, stage).await,
                    // It finished another way (taken over and done elsewhere).
                    Ok(false) => Outcome::Ignored { job_id },
                    Err(error) => {
                        // The claim stays pending: whoever takes it over ends it as cancelled.
                        tracing::error!(%error, job.id = %job_id, "ending the cancelled job failed");
                        Outcome::Ignored { job_id }
                    }
                }
            }
            Err(Interrupted::Failed(failed)) => {
                let failure = failed.failure;
                tracing::warn!(job.id = %job_id, kind = failure.kind, error = %failure.message, "job attempt failed");
                match self
                    .consumer
                    .fail(claimed, &failure.message, failure.kind, !failure.retryable)
                    .await
                {
                    Ok(FailOutcome::Retry { attempt, delay }) => {
                        metrics::counter!(m::RETRIES).increment(1);
                        progress
                            .retrying(&failure.message, failure.kind, delay.as_millis() as u64)
                            .await;
                        Outcome::Retrying {
                            job_id,
                            attempt,
                            delay,
                        }
                    }
                    Ok(FailOutcome::Dead { .. }) => {
                        progress
                            .failed(&failure.message, failure.kind, failed.stage)
                            .await;
                        self.discard_upload(&job_id, &data).await;
                        Outcome::Failed {
                            job_id,
                            error: failure.message,
                        }
                    }
                    Ok(FailOutcome::Ignored) => Outcome::Ignored { job_id },
                    // A cancel came before the failure was recorded: it ended as cancelled.
                    Ok(FailOutcome::Cancelled) => self.cancelled(&progress, failed.stage).await,
                    Err(error) => {
                        tracing::error!(%error, job.id = %job_id, "recording the failure failed");
                        Outcome::Ignored { job_id }
                    }
                }
            }
        }
    }

    /// Takes and runs jobs until `shutdown`, then waits up to `drain` for running jobs.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken, drain: Duration) {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let tracker = TaskTracker::new();
        let maintenance = tokio::spawn(self.clone().maintain(
            permits.clone(),
            tracker.clone(),
            shutdown.clone(),
        ));
        loop {
            let permit = tokio::select! {
                () = shutdown.cancelled() => break,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let read = tokio::select! {
                () = shutdown.cancelled() => break,
                read = self.consumer.read_new(1, Duration::from_secs(2)) => read,
            };
            match read {
                // COUNT 1: at most one delivery, which keeps the permit while it runs.
                Ok(mut deliveries) => {
                    if let Some(delivery) = deliveries.pop() {
                        let runner = self.clone();
                        tracker.spawn(async move {
                            runner.execute(delivery).await;
                            drop(permit);
                        });
                    }
                }
                Err(error) => {
                    drop(permit);
                    tracing::warn!(%error, "reading jobs failed; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_millis(500)) => {},
                    }
                }
            }
        }
        let _ = maintenance.await;
        tracker.close();
        let running = tracker.len();
        if running > 0 {
            tracing::info!(running, "waiting for running jobs to finish");
        }
        if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
            tracing::warn!(
                running = tracker.len(),
                "jobs still running at WORKER_SHUTDOWN_TIMEOUT; other workers will take them over"
            );
        }
    }

    /// Promotes due retries and reclaims jobs of stopped workers.
    async fn maintain(
        self: Arc<Self>,
        permits: Arc<Semaphore>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) {
        let reclaim_every = self.consumer.options().visibility_timeout / 2;
        let mut promote = tokio::time::interval(Duration::from_millis(250));
        let mut reclaim = tokio::time::interval(reclaim_every.max(Duration::from_millis(100)));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = promote.tick() => match self.consumer.promote_due(100).await {
                    Ok(0) => {},
                    Ok(_) => self.reporter.changed(),
                    Err(error) => tracing::debug!(%error, "promoting retries failed"),
                },
                _ = reclaim.tick() => {
                    let free = permits.available_permits();
                    if free == 0 {
                        continue;
                    }
                    match self.consumer.reclaim(free).await {
                        Ok(deliveries) => for delivery in deliveries {
                            let Ok(permit) = permits.clone().try_acquire_owned() else { break };
                            metrics::counter!(m::RECLAIMS).increment(1);
                            let runner = self.clone();
                            tracker.spawn(async move {
                                runner.execute(delivery).await;
                                drop(permit);
                            });
                        },
                        Err(error) => tracing::debug!(%error, "reclaiming jobs failed"),
                    }
                }
            }
        }
    }
}

async fn keep_alive(consumer: Consumer, claimed: Claimed, done: CancellationToken) {
    let every = consumer.options().visibility_timeout / 3;
    loop {
        tokio::select! {
            () = done.cancelled() => return,
            () = tokio::time::sleep(every) => {
                if let Err(error) = consumer.keep_alive(&claimed).await {
                    tracing::warn!(%error, job.id = %claimed.job.job_id, "keeping the claim alive failed");
                }
            }
        }
    }
}

/// The span of one job attempt: a child of the span that added the job (its stored
/// `traceparent`), so one trace runs from the HTTP request to the browser.
fn job_span(job: &JobRecord) -> tracing::Span {
    let span = tracing::info_span!(
        "job",
        otel.name = "analyze-resume",
        otel.kind = "consumer",
        job.id = %job.job_id,
        job.queue = %job.queue_name,
        job.attempt = job.attempts,
        otel.status_code = tracing::field::Empty,
    );
    service_runtime::telemetry::continue_trace(&span, job.traceparent.as_deref());
    span
}
