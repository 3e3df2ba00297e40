//! Job submission through the gateway: the original body, validation, idempotency, uploads,
//! job state and queue counts.

use serde_json::json;

use crate::helpers::{TestApp, WAIT, spawn_app, spawn_app_with};

fn original_body() -> serde_json::Value {
    json!({
        "queueName": "resume-analysis",
        "jobName": "analyze-resume",
        "data": {
            "resumeId": "test-123",
            "candidateId": "candidate-456",
            "organisationId": "org-789",
            "fileUrl": "https://example.com/resume.pdf",
            "fileName": "resume.pdf",
            "mimeType": "application/pdf"
        }
    })
}

#[tokio::test]
async fn the_original_add_request_creates_a_waiting_job() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json("/api/v1/queue/add", &original_body(), None)
        .await;
    assert_eq!(status, 201, "{body}");
    let job_id = body["jobId"].as_str().unwrap();
    assert!(
        job_id.starts_with("resume-test-123-"),
        "default id form: {job_id}"
    );
    let millis: u64 = job_id.rsplit('-').next().unwrap().parse().unwrap();
    assert!(millis > 1_700_000_000_000);
    assert_eq!(body["queueName"], "resume-analysis");
    assert_eq!(body["status"], "waiting");

    let (status, job) = app.get_json(&format!("/api/v1/jobs/{job_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(job["state"], "waiting");
    assert_eq!(job["progress"], 0);
    assert_eq!(job["attempts"], 0);
    assert_eq!(job["maxAttempts"], 3);
    assert_eq!(job["organisationId"], "org-789");
    assert_eq!(job["data"]["fileUrl"], "https://example.com/resume.pdf");

    let (status, counts) = app.get_json("/api/v1/queues/resume-analysis").await;
    assert_eq!(status, 200);
    assert_eq!(counts["waiting"], 1);
    assert_eq!(counts["active"], 0);
}

#[tokio::test]
async fn a_subscriber_at_connect_sees_the_queued_event_and_a_queue_update() {
    let app = spawn_app().await;
    let (mut client, _) = app.connect("?jobs=fixed-1&queues=resume-analysis").await;
    // A queue's subscriber gets its counts at once, before anything changes.
    let now = client
        .next_named("queue_update", WAIT)
        .await
        .unwrap()
        .json();
    assert_eq!(
        (now["queueName"].as_str(), now["waiting"].as_u64()),
        (Some("resume-analysis"), Some(0))
    );
    let mut body = original_body();
    body["opts"] = json!({"jobId": "fixed-1"});
    let (status, _) = app.post_json("/api/v1/queue/add", &body, None).await;
    assert_eq!(status, 201);
    // The two events come from different publishers: either may arrive first.
    let (mut update, mut counts) = (None, None);
    while update.is_none() || counts.is_none() {
        let event = client.next_event(WAIT).await.unwrap();
        match event.event.as_str() {
            "job_update" => update = Some(event.json()),
            "queue_update" => counts = Some(event.json()),
            _ => {}
        }
    }
    let (update, counts) = (update.unwrap(), counts.unwrap());
    assert_eq!(update["jobId"], "fixed-1");
    assert_eq!(update["status"], "waiting");
    assert_eq!(update["resumeId"], "test-123");
    assert_eq!(counts["queueName"], "resume-analysis");
    assert_eq!(counts["waiting"], 1);
}

#[tokio::test]
async fn adding_a_chosen_job_id_twice_returns_the_existing_job() {
    let app = spawn_app().await;
    let mut body = original_body();
    body["opts"] = json!({"jobId": "same", "attempts": 5});
    let (first, _) = app.post_json("/api/v1/queue/add", &body, None).await;
    let (second, again) = app.post_json("/api/v1/queue/add", &body, None).await;
    assert_eq!(first, 201);
    assert_eq!(second, 200);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["jobId"], "same");
    let (_, counts) = app.get_json("/api/v1/queues/resume-analysis").await;
    assert_eq!(counts["waiting"], 1, "enqueued once");
    let (_, job) = app.get_json("/api/v1/jobs/same").await;
    assert_eq!(job["maxAttempts"], 5);
}

#[tokio::test]
async fn invalid_add_requests_name_each_field_and_change_nothing() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            "/api/v1/queue/add",
            &json!({"queueName": "resume-analysis", "data": {"fileUrl": "file:///etc/passwd"}}),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_fields");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["jobName", "data.resumeId", "data.fileUrl"]);

    let mut unknown = original_body();
    unknown["queueName"] = json!("no-such-queue");
    let (status, body) = app.post_json("/api/v1/queue/add", &unknown, None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "queue_not_found");

    let raw = app
        .http
        .post(app.url("/api/v1/queue/add"))
        .header("content-type", "application/json")
        .body("{\"queueName\":")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);

    let mut big = original_body();
    big["data"]["jobDescription"] = json!("x".repeat(100_000));
    let (status, body) = app.post_json("/api/v1/queue/add", &big, None).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "body_too_large");

    let (_, counts) = app.get_json("/api/v1/queues/resume-analysis").await;
    assert_eq!(counts["waiting"], 0);
    let (status, body) = app.get_json("/api/v1/jobs/unknown-job").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "job_not_found");
    let (status, _) = app.get_json("/api/v1/jobs/bad%20id").await;
    assert_eq!(status, 400);
    let (status, _) = app.get_json("/api/v1/queues/nope").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_upload_stores_the_file_and_enqueues_its_analysis() {
    let app = spawn_app().await;
    let (status, body) = upload_text(
        &app,
        b"Jane Doe\njane@example.com\nSkills: Rust",
        &[
            ("candidateId", "cand-1"),
            ("requiredSkills", "Rust, Kubernetes"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let job_id = body["jobId"].as_str().unwrap();
    let (_, job) = app.get_json(&format!("/api/v1/jobs/{job_id}")).await;
    assert_eq!(job["data"]["uploaded"], true);
    assert_eq!(job["data"]["fileName"], "cv.txt");
    assert_eq!(job["data"]["requiredSkills"], json!(["Rust", "Kubernetes"]));
    let stored = app
        .redis
        .cli(&["GET", &format!("rq:{{resume-analysis}}:file:{job_id}")]);
    assert!(stored.contains("jane@example.com"));
}

#[tokio::test]
async fn uploads_over_the_limit_or_without_a_file_are_rejected() {
    let app = spawn_app_with(|c| c.upload_max_bytes = 1024).await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(vec![b'a'; 4096]).file_name("big.txt"),
    );
    let (status, body) = post_form(&app, form).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "file_too_large");

    let form = reqwest::multipart::Form::new().text("candidateId", "c");
    let (status, body) = post_form(&app, form).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["fields"][0]["field"], "file");

    let response = app
        .http
        .post(app.url("/api/v1/resumes"))
        .header("content-type", "text/plain")
        .body("not multipart")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let (_, counts) = app.get_json("/api/v1/queues/resume-analysis").await;
    assert_eq!(counts["waiting"], 0);
}

/// `POST /api/v1/resumes` with a text file of `size` bytes for `organisation`.
async fn upload_for(app: &TestApp, organisation: &str, size: usize) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![b'a'; size]).file_name("cv.txt"),
        )
        .text("organisationId", organisation.to_owned());
    app.http
        .post(app.url("/api/v1/resumes"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_organisations_pending_uploads_are_capped() {
    let app = spawn_app_with(|c| c.upload_max_pending_bytes = 10_000).await;
    for _ in 0..2 {
        assert_eq!(upload_for(&app, "org-a", 4_000).await.status(), 201);
    }
    let refused = upload_for(&app, "org-a", 4_000).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upload_quota_exceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("8000 bytes"),
        "{body}"
    );
    // Another organisation has its own allowance; one file over the whole cap is 413.
    assert_eq!(upload_for(&app, "org-b", 4_000).await.status(), 201);
    assert_eq!(upload_for(&app, "org-b", 10_001).await.status(), 413);

    // Files leave once analysed (or failed for good): the allowance comes back.
    let files = app.redis.cli(&["KEYS", "rq:{resume-analysis}:file:*"]);
    for key in files.lines().filter(|k| !k.is_empty()) {
        app.redis.cli(&["DEL", key]);
    }
    assert_eq!(upload_for(&app, "org-a", 4_000).await.status(), 201);
}

#[tokio::test]
async fn upload_fields_copied_into_events_are_bounded() {
    let app = spawn_app().await;
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"Jane Doe".to_vec())
                .file_name("n".repeat(300))
                .mime_str(&format!("text/{}", "x".repeat(200)))
                .unwrap(),
        )
        .text("candidateId", "c".repeat(257));
    let (status, body) = post_form(&app, form).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["candidateId", "file.filename", "file.contentType"],
        "{body}"
    );
}

#[tokio::test]
async fn the_full_result_is_served_once_the_job_has_completed() {
    let app = spawn_app().await;
    let (status, _) = app.get_json("/api/v1/jobs/nope/result").await;
    assert_eq!(status, 404);
    let response = upload_for(&app, "org-a", 10).await;
    let body: serde_json::Value = response.json().await.unwrap();
    let job_id = body["jobId"].as_str().unwrap().to_owned();
    let (status, body) = app.get_json(&format!("/api/v1/jobs/{job_id}/result")).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "result_not_ready");

    // Completed by hand, as a worker's completion script leaves it.
    let key = format!("rq:{{resume-analysis}}:job:{job_id}");
    app.redis.cli(&[
        "HSET",
        &key,
        "status",
        "completed",
        "result",
        r#"{"profile":{"email":"jane@example.com"}}"#,
    ]);
    let (status, body) = app.get_json(&format!("/api/v1/jobs/{job_id}/result")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["result"]["profile"]["email"], "jane@example.com");

    app.redis.cli(&[
        "HSET",
        &key,
        "status",
        "failed",
        "error",
        "too big",
        "errorCode",
        "document_too_large",
    ]);
    let (status, body) = app.get_json(&format!("/api/v1/jobs/{job_id}/result")).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "job_failed");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("document_too_large"),
        "{body}"
    );
}

/// Uploads `body` as a text résumé with the given form fields; returns status and body.
async fn upload_text(
    app: &TestApp,
    body: &[u8],
    fields: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(body.to_vec())
            .file_name("cv.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    for (name, value) in fields {
        form = form.text((*name).to_owned(), (*value).to_owned());
    }
    post_form(app, form).await
}

/// `POST /api/v1/resumes` with `form`; returns status and JSON body.
async fn post_form(app: &TestApp, form: reqwest::multipart::Form) -> (u16, serde_json::Value) {
    let response = app
        .http
        .post(app.url("/api/v1/resumes"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_resume_id_is_short_enough_for_the_job_id_made_from_it() {
    let app = spawn_app().await;
    let limit = progress_contract::jobs::MAX_RESUME_ID_LEN;
    let too_long = "r".repeat(limit + 1);
    let mut body = original_body();
    body["data"]["resumeId"] = json!(too_long);
    let (status, answer) = app.post_json("/api/v1/queue/add", &body, None).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["fields"][0]["field"], "data.resumeId");
    let (status, answer) = upload_text(&app, b"Jane", &[("resumeId", &too_long)]).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["fields"][0]["field"], "resumeId");

    // The longest one gives a job id of exactly 256 characters, whose events reach a stream.
    body["data"]["resumeId"] = json!("r".repeat(limit));
    let (status, added) = app.post_json("/api/v1/queue/add", &body, None).await;
    assert_eq!(status, 201, "{added}");
    let job_id = added["jobId"].as_str().unwrap().to_owned();
    assert_eq!(job_id.len(), 256);
    let (mut stream, _) = app.connect(&format!("?jobs={job_id}")).await;
    let waiting = stream.next_named("job_update", WAIT).await.unwrap().json();
    assert_eq!(waiting["jobId"], job_id.as_str());
}

#[tokio::test]
async fn uploading_again_under_an_existing_job_id_keeps_the_queued_file() {
    let app = spawn_app().await;
    let (status, first) = upload_text(&app, b"first document", &[("jobId", "same-upload")]).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = upload_text(&app, b"second document", &[("jobId", "same-upload")]).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true);
    let file = app
        .redis
        .cli(&["GET", "rq:{resume-analysis}:file:same-upload"]);
    assert_eq!(
        file.trim(),
        "first document",
        "the queued job keeps its own file"
    );
    let (_, counts) = app.get_json("/api/v1/queues/resume-analysis").await;
    assert_eq!(counts["waiting"], 1, "enqueued once");
}
