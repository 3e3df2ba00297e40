//! The analysis of one résumé, stage by stage: initializing → fetching → parsing →
//! extracting → analyzing → storing. Each stage is announced before it runs, so progress
//! is monotonic and a failure names the stage it happened in.

use std::time::Instant;

use job_queue::{Claimed, Queue};
use progress_contract::Publisher;
use progress_contract::events::Stage;
use progress_contract::jobs::ResumeJobData;
use progress_contract::summary::ResultSummary;
use resume_analysis::{Requirements, YearMonth};
use safe_fetch::SafeFetcher;
use serde_json::{Value, json};
use tracing::Instrument;

use crate::failure::Failure;
use crate::metrics as m;
use crate::progress::JobProgress;
use crate::sandbox::Sandbox;
use crate::{source, summary, today};

/// Everything a job attempt needs. Shared by all jobs of the process.
pub struct Pipeline {
    pub queue: Queue,
    pub publisher: Publisher,
    pub fetcher: SafeFetcher,
    pub sandbox: Sandbox,
}

/// A finished analysis: the full result (stored, `GET /api/v1/jobs/{id}/result`) and its
/// bounded summary (the `completed` event).
pub struct Analysed {
    pub result: Value,
    pub summary: ResultSummary,
}

/// A failed attempt and the stage it failed in.
pub struct StageFailure {
    pub failure: Failure,
    pub stage: Option<Stage>,
}

/// Times the stages; each stage is also a span, a child of the job's span, that ends when
/// the next stage begins.
struct Timings {
    current: Option<(Stage, Instant, tracing::Span)>,
    done: Vec<Value>,
}

impl Timings {
    /// Starts `stage`; returns its span, for the work done in it.
    fn next(&mut self, stage: Stage) -> tracing::Span {
        self.finish();
        let span = tracing::info_span!(
            "stage",
            otel.name = %format_args!("stage {}", stage.as_str()),
            stage = stage.as_str(),
        );
        self.current = Some((stage, Instant::now(), span.clone()));
        span
    }

    fn finish(&mut self) {
        if let Some((stage, started, _span)) = self.current.take() {
            let elapsed = started.elapsed();
            metrics::histogram!(m::STAGE_DURATION, "stage" => stage.as_str())
                .record(elapsed.as_secs_f64());
            self.done.push(json!({
                "stage": stage.as_str(),
                "durationMs": elapsed.as_millis() as u64,
            }));
        }
    }

    fn stage(&self) -> Option<Stage> {
        self.current.as_ref().map(|(stage, _, _)| *stage)
    }
}

impl Pipeline {
    /// Runs every stage but the final store; returns the result to store.
    pub async fn run(&self, claimed: &Claimed) -> Result<Analysed, StageFailure> {
        let data: ResumeJobData =
            serde_json::from_value(claimed.job.data.clone()).map_err(|e| StageFailure {
                failure: Failure::permanent("invalid_job", format!("the job data is invalid: {e}")),
                stage: None,
            })?;
        let progress = JobProgress {
            publisher: &self.publisher,
            queue: &self.queue,
            job_id: &claimed.job.job_id,
            data: &data,
            attempt: claimed.attempt,
        };
        let mut timings = Timings {
            current: None,
            done: Vec::new(),
        };
        let result = self.stages(claimed, &data, &progress, &mut timings).await;
        let stage = timings.stage();
        timings.finish();
        match result {
            Ok(mut analysed) => {
                analysed.result["stages"] = Value::Array(timings.done);
                Ok(analysed)
            }
            Err(failure) => Err(StageFailure { failure, stage }),
        }
    }

    async fn stages(
        &self,
        claimed: &Claimed,
        data: &ResumeJobData,
        progress: &JobProgress<'_>,
        timings: &mut Timings,
    ) -> Result<Analysed, Failure> {
        let job_id = &claimed.job.job_id;
        let span = timings.next(Stage::Initializing);
        progress
            .stage(
                Stage::Initializing,
                format!("Starting analysis (attempt {})", claimed.attempt),
            )
            .instrument(span)
            .await;

        let span = timings.next(Stage::Fetching);
        let source = async {
            progress.stage(Stage::Fetching, "Fetching the résumé").await;
            source::load(&self.queue, &self.fetcher, job_id, data).await
        }
        .instrument(span)
        .await?;

        let span = timings.next(Stage::Parsing);
        progress
            .stage(
                Stage::Parsing,
                format!("Reading {} bytes", source.bytes.len()),
            )
            .instrument(span.clone())
            .await;
        let document = self
            .sandbox
            .parse(
                source.bytes,
                source.mime_type.clone(),
                source.file_name.clone(),
            )
            .instrument(span)
            .await?;

        let span = timings.next(Stage::Extracting);
        progress
            .stage(
                Stage::Extracting,
                "Extracting contact details, experience and skills",
            )
            .instrument(span)
            .await;
        let (year, month) = today::year_month();
        let profile = resume_analysis::extract(&document.text, YearMonth::new(year, month));

        let span = timings.next(Stage::Analyzing);
        progress
            .stage(Stage::Analyzing, "Scoring skills and seniority")
            .instrument(span)
            .await;
        let requirements = (!data.required_skills.is_empty() || data.job_description.is_some())
            .then(|| Requirements {
                required_skills: data.required_skills.clone(),
                job_description: data.job_description.clone(),
            });
        let analysis = resume_analysis::analyze(&profile, requirements.as_ref());

        let span = timings.next(Stage::Storing);
        progress
            .stage(Stage::Storing, "Saving the results")
            .instrument(span)
            .await;
        let summary = summary::of(job_id, &document, &profile, &analysis);
        let result = json!({
            "resumeId": data.resume_id,
            "candidateId": data.candidate_id,
            "document": {
                "format": document.format,
                "pages": document.pages,
                "characters": document.text.chars().count(),
                "fileName": source.file_name,
                "source": source.origin,
            },
            "profile": profile,
            "analysis": analysis,
        });
        Ok(Analysed { result, summary })
    }
}
