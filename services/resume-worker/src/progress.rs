//! Publishing one job's progress: each stage becomes a `job_update` on `job:{id}` (the
//! original fields) and is recorded on the job so `GET /api/v1/jobs/{id}` shows it too.

use job_queue::Queue;
use progress_contract::Publisher;
use progress_contract::events::{JobStatus, JobUpdate, Stage};
use progress_contract::jobs::ResumeJobData;
use progress_contract::summary::ResultSummary;

/// Progress reported when a stage starts; monotonic.
pub fn stage_progress(stage: Stage) -> u8 {
    match stage {
        Stage::Initializing => 5,
        Stage::Fetching => 15,
        Stage::Parsing => 35,
        Stage::Extracting => 55,
        Stage::Analyzing => 75,
        Stage::Storing => 90,
    }
}

/// Reports the progress of one job attempt.
pub struct JobProgress<'a> {
    pub publisher: &'a Publisher,
    pub queue: &'a Queue,
    pub job_id: &'a str,
    pub data: &'a ResumeJobData,
    pub attempt: u32,
}

impl JobProgress<'_> {
    fn update(&self, status: JobStatus, progress: u8) -> JobUpdate {
        let mut update = JobUpdate::new(self.job_id, status, progress);
        update.resume_id = Some(self.data.resume_id.clone());
        update.candidate_id = self.data.candidate_id.clone();
        update.attempt = Some(self.attempt);
        // The span this update is published from (a stage, or the job): the gateway's
        // delivery span continues it.
        update.traceparent = service_runtime::telemetry::current_traceparent();
        update
    }

    async fn publish(&self, update: JobUpdate) {
        if let Err(error) = self.publisher.publish_job_update(&update).await {
            tracing::warn!(%error, job.id = self.job_id, "publishing job_update failed");
        }
    }

    /// A stage begins.
    pub async fn stage(&self, stage: Stage, message: impl Into<String>) {
        let progress = stage_progress(stage);
        let status = if stage == Stage::Initializing {
            JobStatus::Started
        } else {
            JobStatus::InProgress
        };
        if let Err(error) = self
            .queue
            .set_progress(self.job_id, stage.as_str(), progress)
            .await
        {
            tracing::warn!(%error, job.id = self.job_id, "recording progress failed");
        }
        self.publish(self.update(status, progress).stage(stage).message(message))
            .await;
    }

    /// The final event: the bounded summary, and where the full result is.
    pub async fn completed(&self, summary: &ResultSummary) {
        let mut update = self
            .update(JobStatus::Completed, 100)
            .stage(Stage::Storing)
            .message("Analysis complete");
        update.result_url = Some(summary.result_url.clone());
        update.result = serde_json::to_value(summary).ok();
        self.publish(update).await;
    }

    /// The final event of a cancelled job; `stage` is where it stopped, if it had started.
    /// Nothing is published for the job after it.
    pub async fn cancelled(&self, stage: Option<Stage>) {
        let progress = stage.map_or(0, stage_progress);
        let mut update = self
            .update(JobStatus::Cancelled, progress)
            .message("Analysis cancelled");
        update.stage = stage;
        self.publish(update).await;
    }

    pub async fn retrying(&self, error: &str, code: &str, delay_ms: u64) {
        let mut update = self.update(JobStatus::Retrying, 0).message(format!(
            "Attempt {} failed; retrying in {} ms",
            self.attempt, delay_ms
        ));
        update.error = Some(error.to_owned());
        update.error_code = Some(code.to_owned());
        self.publish(update).await;
    }

    pub async fn failed(&self, error: &str, code: &str, stage: Option<Stage>) {
        let mut update = self
            .update(JobStatus::Failed, 100)
            .message("Analysis failed");
        update.stage = stage;
        update.error = Some(error.to_owned());
        update.error_code = Some(code.to_owned());
        self.publish(update).await;
    }
}
