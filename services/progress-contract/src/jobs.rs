//! The résumé-analysis job payload: the `data` object of `POST /api/v1/queue/add` (the
//! original design's fields) as the worker reads it.

use serde::{Deserialize, Serialize};

/// The queue résumé analyses run on.
pub const RESUME_QUEUE: &str = "resume-analysis";

/// `data` of a résumé-analysis job.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeJobData {
    pub resume_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<String>,
    /// Where to fetch the file (http or https). Absent for uploads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Skills to score the résumé against (an addition).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_skills: Vec<String>,
    /// A job description to score against when no skills are listed (an addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_description: Option<String>,
    /// True when the file was uploaded to the gateway and waits in Redis.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub uploaded: bool,
}

/// The original design's job id: `resume-{resumeId}-{epochMillis}`.
/// Longest `resumeId`: the default job id built from it (`resume-<resumeId>-<13-digit
/// milliseconds>`) then stays within the 256 characters of an id.
pub const MAX_RESUME_ID_LEN: usize =
    crate::channel::MAX_NAME_LEN - "resume-".len() - "-".len() - 13;

pub fn default_job_id(resume_id: &str, epoch_millis: u64) -> String {
    format!("resume-{resume_id}-{epoch_millis}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_resume_id_gives_a_valid_job_id() {
        let longest = "r".repeat(MAX_RESUME_ID_LEN);
        let id = default_job_id(&longest, 1_699_267_200_000);
        assert_eq!(id.len(), crate::channel::MAX_NAME_LEN);
        assert!(crate::channel::is_valid_name(&id));
    }

    #[test]
    fn default_job_id_has_the_original_form() {
        assert_eq!(
            default_job_id("123", 1_699_267_200_000),
            "resume-123-1699267200000"
        );
    }

    #[test]
    fn reads_the_original_body() {
        let data: ResumeJobData = serde_json::from_value(serde_json::json!({
            "resumeId": "test-123",
            "candidateId": "candidate-456",
            "organisationId": "org-789",
            "fileUrl": "https://example.com/resume.pdf",
            "fileName": "resume.pdf",
            "mimeType": "application/pdf"
        }))
        .unwrap();
        assert_eq!(data.resume_id, "test-123");
        assert_eq!(
            data.file_url.as_deref(),
            Some("https://example.com/resume.pdf")
        );
        assert!(!data.uploaded);
    }
}
