//! Jobs that fail: bad files fail cleanly and at once, the worker keeps going; unreachable
//! files are retried with backoff, then dead-lettered; forbidden URLs are refused.

use resume_analysis::fixtures;
use serde_json::json;

use crate::helpers::{stack, until_finished};

#[tokio::test]
async fn corrupt_and_encrypted_pdfs_fail_cleanly_and_the_worker_keeps_going() {
    let stack = stack().await;
    let worker = stack.start_worker(stack.worker_config()).await;
    stack
        .files
        .put("corrupt.pdf", fixtures::corrupt_pdf(), "application/pdf");
    stack
        .files
        .put("locked.pdf", fixtures::encrypted_pdf(), "application/pdf");
    stack.files.put("empty.pdf", Vec::new(), "application/pdf");
    stack.files.put(
        "image.png",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
        "image/png",
    );
    stack.files.put(
        "good.txt",
        fixtures::sample_resume_lines().join("\n").into_bytes(),
        "text/plain",
    );

    for (job_id, path, expected) in [
        ("corrupt", "/files/corrupt.pdf", "corrupt"),
        ("locked", "/files/locked.pdf", "password"),
        ("empty", "/files/empty.pdf", "empty"),
        ("image", "/files/image.png", "not supported"),
    ] {
        let mut stream = stack.watch(job_id).await;
        stack
            .add(job_id, &stack.files.url(path), json!({}), json!({}))
            .await;
        let updates = until_finished(&mut stream).await;
        let last = updates.last().unwrap();
        assert_eq!(last["status"], "failed", "{job_id}: {last}");
        assert_eq!(last["stage"], "parsing", "{job_id}");
        let error = last["error"].as_str().unwrap().to_lowercase();
        assert!(error.contains(expected), "{job_id}: {error}");
        let job = stack.wait_state(job_id, "failed").await;
        assert_eq!(job["attempts"], 1, "bad input is not retried");
    }
    let mut stream = stack.watch("good").await;
    stack
        .add(
            "good",
            &stack.files.url("/files/good.txt"),
            json!({}),
            json!({}),
        )
        .await;
    assert_eq!(
        until_finished(&mut stream).await.last().unwrap()["status"],
        "completed"
    );
    let counts = stack.counts().await;
    assert_eq!(counts["failed"], 4);
    assert_eq!(counts["completed"], 1);
    worker.stop.cancel();
    worker.handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_unavailable_file_is_retried_with_backoff_then_dead_lettered() {
    let stack = stack().await;
    let worker = stack.start_worker(stack.worker_config()).await;
    let mut stream = stack.watch("flaky").await;
    let (status, _) = stack
        .add(
            "flaky",
            &stack.files.url("/unavailable/cv.pdf"),
            json!({}),
            json!({"attempts": 3, "backoff": 200}),
        )
        .await;
    assert_eq!(status, 201);
    let updates = until_finished(&mut stream).await;
    let retries: Vec<_> = updates
        .iter()
        .filter(|u| u["status"] == "retrying")
        .collect();
    assert_eq!(retries.len(), 2, "two retries before the last attempt");
    assert_eq!(retries[0]["attempt"], 1);
    assert_eq!(retries[1]["attempt"], 2);
    let gap = retries[1]["timestamp"].as_u64().unwrap() - retries[0]["timestamp"].as_u64().unwrap();
    assert!(
        gap >= 200,
        "the second attempt waited for the backoff ({gap} ms)"
    );
    let last = updates.last().unwrap();
    assert_eq!(last["status"], "failed");
    assert_eq!(last["attempt"], 3);
    assert!(last["error"].as_str().unwrap().contains("503"), "{last}");

    let job = stack.wait_state("flaky", "failed").await;
    assert_eq!(job["attempts"], 3);
    let dead = stack
        .redis
        .cli(&["XRANGE", "rq:{resume-analysis}:dead", "-", "+"]);
    assert!(dead.contains("flaky"), "dead letter: {dead}");
    let counts = stack.counts().await;
    assert_eq!(
        (counts["failed"].as_u64(), counts["delayed"].as_u64()),
        (Some(1), Some(0))
    );
    worker.stop.cancel();
    worker.handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn fetches_to_private_addresses_are_refused() {
    let stack = stack().await;
    // No allow-listed hosts: the production default.
    let mut config = stack.worker_config();
    config.fetch_allow_hosts = String::new();
    let worker = stack.start_worker(config).await;
    stack.files.put("cv.txt", b"Jane".to_vec(), "text/plain");
    let targets = [
        ("loopback", stack.files.url("/files/cv.txt")),
        (
            "metadata",
            "http://169.254.169.254/latest/meta-data/".to_owned(),
        ),
        ("private", "http://10.0.0.1/cv.pdf".to_owned()),
        (
            "mapped",
            format!(
                "http://[::ffff:127.0.0.1]:{}/files/cv.txt",
                stack.files.addr.port()
            ),
        ),
        (
            "localhost",
            format!("http://localhost:{}/files/cv.txt", stack.files.addr.port()),
        ),
    ];
    for (job_id, url) in targets {
        let mut stream = stack.watch(job_id).await;
        stack.add(job_id, &url, json!({}), json!({})).await;
        let last = until_finished(&mut stream).await.pop().unwrap();
        assert_eq!(last["status"], "failed", "{job_id}");
        assert_eq!(last["stage"], "fetching", "{job_id}");
        let job = stack.wait_state(job_id, "failed").await;
        assert_eq!(
            job["attempts"], 1,
            "{job_id}: refused at once, never retried"
        );
    }
    assert_eq!(
        stack.files.hits("/files/cv.txt"),
        0,
        "the file server was never reached"
    );
    worker.stop.cancel();
    worker.handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_redirect_to_loopback_is_refused() {
    let stack = stack().await;
    let outer = crate::files::FileServer::start([127, 0, 0, 2]).await;
    outer.redirect_to(&stack.files.url("/files/cv.txt"));
    stack.files.put("cv.txt", b"Jane".to_vec(), "text/plain");
    let mut config = stack.worker_config();
    config.fetch_allow_hosts = "127.0.0.2".into();
    let worker = stack.start_worker(config).await;
    let mut stream = stack.watch("redirected").await;
    stack
        .add("redirected", &outer.url("/redirect"), json!({}), json!({}))
        .await;
    let last = until_finished(&mut stream).await.pop().unwrap();
    assert_eq!(last["status"], "failed");
    assert_eq!(
        stack.files.hits("/files/cv.txt"),
        0,
        "the loopback target was never fetched"
    );
    worker.stop.cancel();
    worker.handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_job_with_a_file_url_scheme_is_refused_by_the_worker_too() {
    let stack = stack().await;
    // Bypass the gateway's validation: a publisher writing the queue directly.
    let client = service_runtime::redis::RedisOptions::new(stack.redis.url())
        .connect_client()
        .await
        .unwrap();
    let queue = job_queue::Queue::new(client, "resume-analysis");
    let job = job_queue::NewJob {
        name: "analyze-resume".into(),
        data: json!({"resumeId": "x", "fileUrl": "file:///etc/passwd"}),
        organisation_id: None,
        traceparent: None,
    };
    queue
        .add("file-scheme", &job, &job_queue::JobOptions::default())
        .await
        .unwrap();
    let worker = stack.start_worker(stack.worker_config()).await;
    let job = stack.wait_state("file-scheme", "failed").await;
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("scheme"),
        "{job}"
    );
    assert_eq!(job["attempts"], 1);
    worker.stop.cancel();
    worker.handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_upload_of_a_job_that_failed_for_good_is_deleted() {
    let stack = stack().await;
    let worker = stack.start_worker(stack.worker_config()).await;
    let mut stream = stack.watch("upload-corrupt").await;
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(fixtures::corrupt_pdf()).file_name("cv.pdf"),
        )
        .text("jobId", "upload-corrupt");
    let response = stack.upload(form).await;
    assert_eq!(response.status(), 201);
    let last = until_finished(&mut stream).await.pop().unwrap();
    assert_eq!(last["status"], "failed", "{last}");
    assert_eq!(last["errorCode"], "corrupt", "{last}");
    let job = stack.wait_state("upload-corrupt", "failed").await;
    assert_eq!(job["errorCode"], "corrupt");
    let leftover = stack
        .redis
        .cli(&["EXISTS", "rq:{resume-analysis}:file:upload-corrupt"]);
    assert_eq!(
        leftover, "0",
        "the upload is removed once the job failed for good"
    );
    worker.stop.cancel();
    worker.handle.await.unwrap().unwrap();
}
