//! Jobs that succeed: every stage is published in order with monotonic progress, and the
//! result holds what the résumé says.

use resume_analysis::fixtures;
use serde_json::{Value, json};

use crate::helpers::{WAIT, stack, stages, until_finished};

const ALL_STAGES: [&str; 6] = [
    "initializing",
    "fetching",
    "parsing",
    "extracting",
    "analyzing",
    "storing",
];

fn assert_progress_monotonic(updates: &[Value]) {
    let progress: Vec<u64> = updates
        .iter()
        .map(|u| u["progress"].as_u64().unwrap())
        .collect();
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress not monotonic: {progress:?}"
    );
    assert_eq!(progress.last(), Some(&100));
}

fn assert_sample_result(result: &Value) {
    let profile = &result["profile"];
    assert_eq!(profile["email"], "jane.doe@example.com", "{profile}");
    assert!(
        profile["phone"].as_str().unwrap().contains("555"),
        "{profile}"
    );
    let skills: Vec<&str> = profile["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for expected in ["Rust", "PostgreSQL", "Kubernetes"] {
        assert!(
            skills.contains(&expected),
            "{expected} missing from {skills:?}"
        );
    }
    assert!(
        profile["yearsOfExperience"].as_f64().unwrap() >= 5.0,
        "{profile}"
    );
}

#[tokio::test]
async fn an_uploaded_pdf_is_analysed_end_to_end_through_the_gateway() {
    let stack = stack().await;
    let worker = stack.start_worker(stack.worker_config()).await;
    let mut stream = stack.watch("upload-pdf").await;

    let pdf = fixtures::pdf_from_lines(&[fixtures::sample_resume_lines()]);
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(pdf)
                .file_name("jane.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        )
        .text("jobId", "upload-pdf")
        .text("requiredSkills", "Rust, Kubernetes, Haskell");
    let response = stack.upload(form).await;
    assert_eq!(response.status(), 201);

    let updates = until_finished(&mut stream).await;
    let last = updates.last().unwrap();
    assert_eq!(last["status"], "completed", "{last}");
    assert_eq!(updates[0]["status"], "waiting");
    assert_eq!(stages(&updates), ALL_STAGES);
    assert_progress_monotonic(&updates);
    // The event carries the summary; the full result is one request away.
    let summary = &last["result"];
    assert_eq!(summary["summary"], true, "{summary}");
    assert_eq!(summary["contact"]["email"], "jane.doe@example.com");
    assert_eq!(summary["score"], 67);
    assert_eq!(summary["match"]["missing"], json!(["Haskell"]));
    assert_eq!(summary["counts"]["pages"], 1);
    assert_eq!(last["resultUrl"], "/api/v1/jobs/upload-pdf/result");
    let full = stack.full_result(last).await;
    assert_sample_result(&full);
    let matched = &full["analysis"]["match"];
    assert_eq!(matched["missing"], json!(["Haskell"]), "{matched}");
    assert_eq!(matched["score"], 67);
    assert_eq!(full["document"]["format"], "pdf");

    let job = stack.wait_state("upload-pdf", "completed").await;
    assert_eq!(job["result"], full, "the stored result is the one served");
    assert_eq!(job["attempts"], 1);
    let leftover = stack
        .redis
        .cli(&["EXISTS", "rq:{resume-analysis}:file:upload-pdf"]);
    assert_eq!(leftover, "0", "the upload is removed once analysed");
    worker.stop.cancel();
    worker.handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn docx_five_page_pdf_and_text_from_urls_are_analysed() {
    let stack = stack().await;
    let worker = stack.start_worker(stack.worker_config()).await;
    let lines = fixtures::sample_resume_lines();
    stack.files.put(
        "cv.docx",
        fixtures::docx_from_paragraphs(&lines),
        "application/octet-stream",
    );
    let pages: Vec<Vec<String>> = (0..5)
        .map(|i| {
            if i == 0 {
                lines.clone()
            } else {
                vec![format!("Page {} of project notes", i + 1)]
            }
        })
        .collect();
    stack.files.put(
        "long.pdf",
        fixtures::pdf_from_lines(&pages),
        "application/pdf",
    );
    stack
        .files
        .put("cv.md", lines.join("\n").into_bytes(), "text/markdown");

    for (job_id, path, format) in [
        ("docx-1", "/files/cv.docx", "docx"),
        ("pdf-5", "/files/long.pdf", "pdf"),
        ("md-1", "/files/cv.md", "markdown"),
    ] {
        let mut stream = stack.watch(job_id).await;
        let (status, body) = stack
            .add(job_id, &stack.files.url(path), json!({}), json!({}))
            .await;
        assert_eq!(status, 201, "{body}");
        let updates = until_finished(&mut stream).await;
        let last = updates.last().unwrap();
        assert_eq!(last["status"], "completed", "{job_id}: {last}");
        assert_eq!(stages(&updates), ALL_STAGES, "{job_id}");
        assert_progress_monotonic(&updates);
        let full = stack.full_result(last).await;
        assert_sample_result(&full);
        let document = &full["document"];
        assert!(
            document["format"]
                .as_str()
                .unwrap()
                .starts_with(&format[..3]),
            "{job_id}: {document}"
        );
        if job_id == "pdf-5" {
            assert_eq!(document["pages"], 5);
        }
    }
    let counts = stack.counts().await;
    assert_eq!(
        (
            counts["completed"].as_u64(),
            counts["waiting"].as_u64(),
            counts["active"].as_u64()
        ),
        (Some(3), Some(0), Some(0))
    );
    worker.stop.cancel();
    worker.handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn queue_and_worker_events_reach_subscribers() {
    let stack = stack().await;
    let config = stack.worker_config();
    let worker = stack.start_worker(config).await;
    let mut stream = test_support::SseClient::connect(&stack.url(&format!(
        "/api/v1/sse/connect?queues=resume-analysis&workers={}",
        worker.id
    )))
    .await
    .unwrap();
    let status = stream
        .next_named("worker_status", WAIT)
        .await
        .unwrap()
        .json();
    assert_eq!(status["workerId"], worker.id.as_str());
    assert_eq!(status["concurrency"], 4);

    stack.files.put(
        "cv.txt",
        fixtures::sample_resume_lines().join("\n").into_bytes(),
        "text/plain",
    );
    stack
        .add(
            "q-1",
            &stack.files.url("/files/cv.txt"),
            json!({}),
            json!({}),
        )
        .await;
    let mut saw_active = false;
    let mut saw_completed = false;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !(saw_active && saw_completed) && tokio::time::Instant::now() < deadline {
        let event = stream.next_event(WAIT).await.unwrap();
        let data = event.json();
        match event.event.as_str() {
            "worker_status" if data["status"] == "active" => {
                saw_active = true;
                assert_eq!(data["currentJob"], "q-1");
            }
            "queue_update" if data["completed"] == 1 => {
                saw_completed = true;
                assert_eq!(data["waiting"], 0);
                assert_eq!(data["active"], 0);
            }
            _ => {}
        }
    }
    assert!(
        saw_active && saw_completed,
        "active: {saw_active}, completed: {saw_completed}"
    );

    let workers = stack.get_json("/api/v1/workers").await;
    assert!(
        workers["workers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["workerId"] == worker.id.as_str())
    );

    worker.stop.cancel();
    let paused = stream
        .next_named("worker_status", WAIT)
        .await
        .unwrap()
        .json();
    let paused = if paused["status"] == "paused" {
        paused
    } else {
        stream
            .next_named("worker_status", WAIT)
            .await
            .unwrap()
            .json()
    };
    assert_eq!(paused["status"], "paused");
    worker.handle.await.unwrap().unwrap();
    let workers = stack.get_json("/api/v1/workers").await;
    assert_eq!(
        workers["totalWorkers"], 0,
        "a stopped worker leaves the registry"
    );
}

#[tokio::test]
async fn a_long_resumes_completed_event_reaches_the_browser() {
    let stack = stack().await;
    let worker = stack.start_worker(stack.worker_config()).await;
    // 400 positions: a full result well over the gateway's 64 KiB event limit.
    let mut lines = fixtures::sample_resume_lines();
    for i in 0..400 {
        lines.push(format!(
            "Engineer {i}, Company {i} Ltd, Jan {} – Dec {}: built services in Rust, Go, Kubernetes, Kafka and PostgreSQL for the payments, search and analytics teams of the company",
            1980 + i % 40,
            1981 + i % 40
        ));
    }
    stack
        .files
        .put("long.txt", lines.join("\n").into_bytes(), "text/plain");
    let mut stream = stack.watch("long-1").await;
    stack
        .add(
            "long-1",
            &stack.files.url("/files/long.txt"),
            json!({}),
            json!({}),
        )
        .await;
    let last = until_finished(&mut stream).await.pop().unwrap();
    assert_eq!(last["status"], "completed", "{last}");
    let event_bytes = last.to_string().len();
    assert!(
        event_bytes < 20 * 1024,
        "the completed event is {event_bytes} bytes"
    );
    assert_eq!(last["result"]["summary"], true);
    let full = stack.full_result(&last).await;
    let full_bytes = full.to_string().len();
    assert!(
        full_bytes > 64 * 1024,
        "the full result is {full_bytes} bytes"
    );
    assert_eq!(
        last["result"]["counts"]["positions"].as_u64(),
        Some(full["profile"]["positions"].as_array().unwrap().len() as u64)
    );
    worker.stop.cancel();
    worker.handle.await.unwrap().unwrap();
}
