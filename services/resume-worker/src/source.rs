//! Where a résumé's bytes come from: the upload kept in Redis, or the job's `fileUrl`
//! fetched with the SSRF-safe client.

use job_queue::Queue;
use progress_contract::jobs::ResumeJobData;
use safe_fetch::SafeFetcher;

use crate::failure::Failure;

/// The file to analyse.
pub struct Source {
    pub bytes: Vec<u8>,
    pub mime_type: Option<String>,
    pub file_name: Option<String>,
    pub origin: &'static str,
}

pub async fn load(
    queue: &Queue,
    fetcher: &SafeFetcher,
    job_id: &str,
    data: &ResumeJobData,
) -> Result<Source, Failure> {
    if data.uploaded {
        let bytes = queue
            .load_file(job_id)
            .await
            .map_err(|e| Failure::retryable("redis", format!("reading the uploaded file: {e}")))?
            .ok_or_else(|| {
                Failure::permanent(
                    "upload_missing",
                    "the uploaded file has expired or was removed",
                )
            })?;
        return Ok(Source {
            bytes,
            mime_type: data.mime_type.clone(),
            file_name: data.file_name.clone(),
            origin: "upload",
        });
    }
    let Some(url) = data.file_url.as_deref() else {
        return Err(Failure::permanent(
            "no_file",
            "the job has neither an upload nor a fileUrl",
        ));
    };
    let fetched = fetcher.fetch(url).await.map_err(|error| {
        let message = format!("fetching the résumé failed: {error}");
        if error.is_retryable() {
            Failure::retryable(error.code(), message)
        } else {
            Failure::permanent(error.code(), message)
        }
    })?;
    Ok(Source {
        bytes: fetched.bytes.to_vec(),
        mime_type: data.mime_type.clone().or(fetched.content_type),
        file_name: data.file_name.clone().or(fetched.file_name),
        origin: "url",
    })
}
