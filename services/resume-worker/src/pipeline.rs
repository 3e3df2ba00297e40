//! The analysis of one résumé, stage by stage: initializing → fetching → parsing →
//! extracting → analyzing → storing. Each stage is announced before it runs, so progress
//! is monotonic and a failure names the stage it happened in. A cancelled job stops at the
//! next stage boundary, or during a download or a document read (see [`crate::cancel`]).

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
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

use crate::cancel::CancelWatch;
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
    /// Run when a stage begins, after it is announced and before its work. Unset in the
    /// service; tests set it to hold a job at a stage.
    pub stage_gate: OnceLock<StageGate>,
}

/// See [`Pipeline::stage_gate`]: called with the job id and the stage.
pub type StageGate =
    Arc<dyn Fn(String, Stage) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

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

/// Why an attempt ended without a result.
pub enum Interrupted {
    Failed(StageFailure),
    /// A cancel was requested; the attempt stopped in `stage` (the last one announced).
    Cancelled {
        stage: Option<Stage>,
    },
}

/// How the stages stop early.
enum Halt {
    Failed(Failure),
    Cancelled,
}

impl From<Failure> for Halt {
    fn from(failure: Failure) -> Self {
        Halt::Failed(failure)
    }
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
    pub async fn run(
        &self,
        claimed: &Claimed,
        cancel: &CancelWatch<'_>,
    ) -> Result<Analysed, Interrupted> {
        let data: ResumeJobData =
            serde_json::from_value(claimed.job.data.clone()).map_err(|e| {
                Interrupted::Failed(StageFailure {
                    failure: Failure::permanent(
                        "invalid_job",
                        format!("the job data is invalid: {e}"),
                    ),
                    stage: None,
                })
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
        let result = self
            .stages(claimed, &data, &progress, &mut timings, cancel)
            .await;
        let stage = timings.stage();
        timings.finish();
        match result {
            Ok(mut analysed) => {
                analysed.result["stages"] = Value::Array(timings.done);
                Ok(analysed)
            }
            Err(Halt::Failed(failure)) => Err(Interrupted::Failed(StageFailure { failure, stage })),
            Err(Halt::Cancelled) => Err(Interrupted::Cancelled { stage }),
        }
    }

    /// A stage boundary: stops when the job was cancelled, else announces `stage` and lets
    /// the stage gate (tests) hold it. Returns the stage's span.
    async fn begin(
        &self,
        stage: Stage,
        message: String,
        progress: &JobProgress<'_>,
        timings: &mut Timings,
        cancel: &CancelWatch<'_>,
    ) -> Result<tracing::Span, Halt> {
        if cancel.requested().await {
            return Err(Halt::Cancelled);
        }
        let span = timings.next(stage);
        progress
            .stage(stage, message)
            .instrument(span.clone())
            .await;
        if let Some(gate) = self.stage_gate.get() {
            gate(progress.job_id.to_owned(), stage).await;
        }
        Ok(span)
    }

    async fn stages(
        &self,
        claimed: &Claimed,
        data: &ResumeJobData,
        progress: &JobProgress<'_>,
        timings: &mut Timings,
        cancel: &CancelWatch<'_>,
    ) -> Result<Analysed, Halt> {
        let job_id = &claimed.job.job_id;
        let starting = format!("Starting analysis (attempt {})", claimed.attempt);
        self.begin(Stage::Initializing, starting, progress, timings, cancel)
            .await?;

        let fetching = "Fetching the résumé".to_owned();
        let span = self
            .begin(Stage::Fetching, fetching, progress, timings, cancel)
            .await?;
        let source = cancel
            .unless_cancelled(source::load(&self.queue, &self.fetcher, job_id, data))
            .instrument(span)
            .await
            .ok_or(Halt::Cancelled)??;

        let reading = format!("Reading {} bytes", source.bytes.len());
        let span = self
            .begin(Stage::Parsing, reading, progress, timings, cancel)
            .await?;
        let document = self
            .sandbox
            .parse_until(
                source.bytes,
                source.mime_type.clone(),
                source.file_name.clone(),
                cancel.requested_later(),
            )
            .instrument(span)
            .await
            .ok_or(Halt::Cancelled)??;

        let extracting = "Extracting contact details, experience and skills".to_owned();
        self.begin(Stage::Extracting, extracting, progress, timings, cancel)
            .await?;
        let (year, month) = today::year_month();
        let profile = resume_analysis::extract(&document.text, YearMonth::new(year, month));

        let analyzing = "Scoring skills and seniority".to_owned();
        self.begin(Stage::Analyzing, analyzing, progress, timings, cancel)
            .await?;
        let requirements = (!data.required_skills.is_empty() || data.job_description.is_some())
            .then(|| Requirements {
                required_skills: data.required_skills.clone(),
                job_description: data.job_description.clone(),
            });
        let analysis = resume_analysis::analyze(&profile, requirements.as_ref());

        let storing = "Saving the results".to_owned();
        self.begin(Stage::Storing, storing, progress, timings, cancel)
            .await?;
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
