//! Validation of the `POST /api/v1/queue/add` body into its one shape ([`AddJob`], also the
//! OpenAPI document's), naming every invalid field at once.

use std::time::Duration;

use job_queue::JobOptions;
use progress_contract::channel::is_valid_name;
use progress_contract::jobs::ResumeJobData;
use serde_json::{Map, Value};

pub use super::body::{AddJob, JobData, JobOptionsBody};
use crate::error::FieldError;

/// A valid add request.
#[derive(Debug)]
pub struct AddRequest {
    pub queue_name: String,
    pub job_name: String,
    pub data: ResumeJobData,
    pub options: JobOptions,
}

/// Longest `candidateId`, `fileName` and `mimeType` (both paths: JSON and upload).
pub const MAX_CANDIDATE_ID: usize = 256;
pub const MAX_FILE_NAME: usize = 256;
pub const MAX_MIME_TYPE: usize = 128;

const MAX_ATTEMPTS: u64 = 20;
const MAX_BACKOFF_MS: u64 = 3_600_000;
const MAX_DELAY_MS: u64 = 7 * 24 * 3_600_000;

struct Checker<'a> {
    errors: Vec<FieldError>,
    object: &'a Map<String, Value>,
    prefix: &'static str,
}

impl<'a> Checker<'a> {
    fn path(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    fn fail(&mut self, name: &str, message: &str) {
        let field = self.path(name);
        self.errors.push(FieldError::new(field, message));
    }

    /// A string field; `required` adds an error when absent.
    fn string(&mut self, name: &str, required: bool, max: usize) -> Option<String> {
        match self.object.get(name) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(name, "is required");
                }
                None
            }
            Some(Value::String(text)) if text.trim().is_empty() => {
                self.fail(name, "must not be empty");
                None
            }
            Some(Value::String(text)) if text.chars().count() > max => {
                self.fail(name, &format!("must be at most {max} characters"));
                None
            }
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                self.fail(name, "must be a string");
                None
            }
        }
    }

    /// A string usable as a channel or key name.
    fn name(&mut self, name: &str, required: bool) -> Option<String> {
        let value = self.string(name, required, 256)?;
        if is_valid_name(&value) {
            Some(value)
        } else {
            self.fail(name, "must use only A-Z a-z 0-9 . _ : -");
            None
        }
    }

    fn integer(&mut self, name: &str, min: u64, max: u64) -> Option<u64> {
        match self.object.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if (min..=max).contains(&v) => Some(v),
                _ => {
                    self.fail(name, &format!("must be an integer from {min} to {max}"));
                    None
                }
            },
            Some(_) => {
                self.fail(name, &format!("must be an integer from {min} to {max}"));
                None
            }
        }
    }
}

fn url_ok(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() > "http://".len() + 1
        && !url.chars().any(char::is_whitespace)
}

/// Validates the whole body.
pub fn add_request(body: &Value) -> Result<AddRequest, Vec<FieldError>> {
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new("body", "must be a JSON object")]);
    };
    let mut top = Checker {
        errors: Vec::new(),
        object,
        prefix: "",
    };
    let queue_name = top.name("queueName", true);
    let job_name = top.string("jobName", true, 128);
    let mut errors = std::mem::take(&mut top.errors);

    let data_object = match object.get("data") {
        Some(Value::Object(data)) => data,
        None | Some(Value::Null) => {
            errors.push(FieldError::new("data", "is required"));
            return Err(errors);
        }
        Some(_) => {
            errors.push(FieldError::new("data", "must be an object"));
            return Err(errors);
        }
    };
    let mut data = Checker {
        errors: Vec::new(),
        object: data_object,
        prefix: "data.",
    };
    let resume_id = data.name("resumeId", true);
    if resume_id
        .as_ref()
        .is_some_and(|id| id.len() > progress_contract::jobs::MAX_RESUME_ID_LEN)
    {
        data.errors.push(FieldError::new(
            "data.resumeId",
            super::resume_id_too_long(),
        ));
    }
    let candidate_id = data.string("candidateId", false, MAX_CANDIDATE_ID);
    let organisation_id = data.name("organisationId", false);
    let file_url = data.string("fileUrl", true, 2048);
    if file_url.as_deref().is_some_and(|url| !url_ok(url)) {
        data.fail("fileUrl", "must be an http or https URL");
    }
    let file_name = data.string("fileName", false, MAX_FILE_NAME);
    let mime_type = data.string("mimeType", false, MAX_MIME_TYPE);
    let job_description = data.string("jobDescription", false, 20_000);
    let required_skills = match data_object.get("requiredSkills") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items))
            if items.len() <= 100
                && items.iter().all(|i| {
                    i.as_str()
                        .is_some_and(|s| !s.trim().is_empty() && s.len() <= 64)
                }) =>
        {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        }
        Some(_) => {
            data.fail(
                "requiredSkills",
                "must be an array of at most 100 non-empty strings of up to 64 characters",
            );
            Vec::new()
        }
    };
    errors.append(&mut data.errors);

    let mut options = None;
    match object.get("opts") {
        None | Some(Value::Null) => {}
        Some(Value::Object(opts)) => {
            let mut o = Checker {
                errors: Vec::new(),
                object: opts,
                prefix: "opts.",
            };
            let job_id = o.name("jobId", false);
            let attempts = o.integer("attempts", 1, MAX_ATTEMPTS);
            // `backoff` is milliseconds, or `{type: "exponential", delay: ms}` as BullMQ takes it.
            match opts.get("backoff") {
                Some(Value::Object(backoff)) => {
                    let mut b = Checker {
                        errors: Vec::new(),
                        object: backoff,
                        prefix: "opts.backoff.",
                    };
                    if b.string("type", false, 32)
                        .is_some_and(|kind| kind != "exponential")
                    {
                        b.fail("type", "only \"exponential\" is supported");
                    }
                    b.integer("delay", 0, MAX_BACKOFF_MS);
                    o.errors.append(&mut b.errors);
                }
                _ => {
                    o.integer("backoff", 0, MAX_BACKOFF_MS);
                }
            }
            let delay = o.integer("delay", 0, MAX_DELAY_MS);
            let priority = o.integer("priority", 0, u64::from(job_queue::MAX_PRIORITY));
            options = Some(JobOptionsBody {
                job_id,
                attempts: attempts.map(|n| n as u32),
                backoff: opts.get("backoff").cloned(),
                delay,
                priority: priority.map(|n| n as u32),
            });
            errors.append(&mut o.errors);
        }
        Some(_) => errors.push(FieldError::new("opts", "must be an object")),
    }

    match (queue_name, job_name, resume_id, file_url) {
        (Some(queue_name), Some(job_name), Some(resume_id), Some(file_url))
            if errors.is_empty() =>
        {
            Ok(AddJob {
                queue_name,
                job_name,
                data: JobData {
                    resume_id,
                    candidate_id,
                    organisation_id,
                    file_url,
                    file_name,
                    mime_type,
                    required_skills: Some(required_skills),
                    job_description,
                },
                opts: options,
            }
            .into())
        }
        _ => Err(errors),
    }
}

impl From<AddJob> for AddRequest {
    /// A valid body as the job's payload and options (defaults for what it leaves out).
    fn from(body: AddJob) -> Self {
        let mut options = JobOptions::default();
        if let Some(opts) = body.opts {
            options.job_id = opts.job_id;
            if let Some(attempts) = opts.attempts {
                options.attempts = attempts;
            }
            let backoff = match &opts.backoff {
                Some(Value::Object(backoff)) => backoff.get("delay").and_then(Value::as_u64),
                Some(other) => other.as_u64(),
                None => None,
            };
            if let Some(ms) = backoff {
                options.backoff = Duration::from_millis(ms);
            }
            if let Some(ms) = opts.delay {
                options.delay = Duration::from_millis(ms);
            }
            if let Some(priority) = opts.priority {
                options.priority = priority;
            }
        }
        let data = body.data;
        Self {
            queue_name: body.queue_name,
            job_name: body.job_name,
            data: ResumeJobData {
                resume_id: data.resume_id,
                candidate_id: data.candidate_id,
                organisation_id: data.organisation_id,
                file_url: Some(data.file_url),
                file_name: data.file_name,
                mime_type: data.mime_type,
                required_skills: data.required_skills.unwrap_or_default(),
                job_description: data.job_description,
                uploaded: false,
            },
            options,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(body: Value) -> Vec<String> {
        add_request(&body)
            .unwrap_err()
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn accepts_the_original_body() {
        let request = add_request(&json!({
            "queueName": "resume-analysis",
            "jobName": "analyze-resume",
            "data": {"resumeId": "test-123", "candidateId": "candidate-456",
                     "organisationId": "org-789", "fileUrl": "https://example.com/resume.pdf",
                     "fileName": "resume.pdf", "mimeType": "application/pdf"}
        }))
        .unwrap();
        assert_eq!(request.data.resume_id, "test-123");
        assert_eq!(request.options.attempts, 3);
    }

    #[test]
    fn names_every_bad_field() {
        assert_eq!(fields(json!({})), ["queueName", "jobName", "data"]);
        assert_eq!(
            fields(json!({"queueName": "q w", "jobName": 5, "data": {"fileUrl": "ftp://x"}})),
            ["queueName", "jobName", "data.resumeId", "data.fileUrl"]
        );
        assert_eq!(
            fields(
                json!({"queueName": "q", "jobName": "j", "data": {"resumeId": "r", "fileUrl": "https://x.io/a"},
                          "opts": {"attempts": 0, "backoff": {"type": "linear"}, "delay": -1, "jobId": "a b", "priority": 1001}})
            ),
            [
                "opts.jobId",
                "opts.attempts",
                "opts.backoff.type",
                "opts.delay",
                "opts.priority"
            ]
        );
        assert_eq!(fields(json!([1])), ["body"]);
    }

    #[test]
    fn reads_options() {
        let request = add_request(&json!({
            "queueName": "q", "jobName": "j",
            "data": {"resumeId": "r", "fileUrl": "http://files.local/a.pdf", "requiredSkills": ["Rust", "SQL"]},
            "opts": {"jobId": "fixed-1", "attempts": 5, "backoff": {"type": "exponential", "delay": 250}, "delay": 1000, "priority": 7}
        }))
        .unwrap();
        assert_eq!(request.options.job_id.as_deref(), Some("fixed-1"));
        assert_eq!(request.options.attempts, 5);
        assert_eq!(request.options.backoff, Duration::from_millis(250));
        assert_eq!(request.options.priority, 7);
        assert_eq!(request.options.delay, Duration::from_secs(1));
        assert_eq!(request.data.required_skills, ["Rust", "SQL"]);
    }
}
