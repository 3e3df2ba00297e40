//! A real Prometheus scrapes a running gateway and a running worker (the built binaries, on
//! a real redis-server) while jobs run and streams are open. Then every query of the chart's
//! dashboards (Grafana variables filled in from the template variables' own queries) must
//! return data, and every alert expression must parse and evaluate, through Prometheus' HTTP
//! API. A metric renamed in code, a label a query expects but no code sets, or a query
//! aimed at the wrong service fails here. Both services' /metrics must also pass `promtool
//! check metrics`, and docs/operations.md must list every metric they export.
//!
//! Needs Debian's `prometheus` package (the test says how to install it when it is missing).
#![allow(clippy::unwrap_used)]

mod exprs;
mod prometheus;
mod services;
mod workload;

use std::collections::HashMap;
use std::time::Duration;

use test_support::RedisServer;

use exprs::{Dashboard, regex_of, substitute};
use prometheus::{Prometheus, Target, alert_rule_files, promtool_check_metrics};
use services::{FileServer, Service, repo_root};
use workload::Api;

pub const WAIT: Duration = Duration::from_secs(60);
const NAMESPACE: &str = "observability";
/// What Grafana computes for `$__rate_interval` is at least four scrape intervals (4 s here);
/// a minute spans the whole run.
const RATE_INTERVAL: &str = "1m";

/// What the workload must have produced (not only the zeros every series starts at) once
/// Prometheus has scraped its end state.
const PRODUCED: &[&str] = &[
    r#"worker_jobs_total{outcome="completed"} >= 4"#,
    r#"worker_jobs_total{outcome="failed"} >= 2"#,
    r#"worker_jobs_total{outcome="retrying"} >= 1"#,
    "worker_retries_total >= 1",
    "worker_reclaims_total >= 1",
    r#"worker_parse_failures_total{kind="corrupt"} >= 1"#,
    r#"worker_queue_depth{state="dead"} >= 1"#,
    "worker_stage_duration_seconds_count >= 1",
    r#"sse_events_dropped_total{reason="malformed"} >= 1"#,
    r#"sse_events_dropped_total{reason="oversize"} >= 1"#,
    r#"sse_delivery_latency_seconds_count{event="job_update"} >= 1"#,
    r#"sse_events_delivered_total{event="queue_update"} >= 1"#,
    r#"sse_resumes_total{result="resumed"} >= 1"#,
    r#"sse_resumes_total{result="expired"} >= 1"#,
    "sse_events_replayed_total >= 2",
    r#"sse_subscribe_requests_total{result="invalid"} >= 1"#,
    r#"sum(http_requests_total{status="404"}) >= 2"#,
    "sse_connections_open >= 3",
];

/// Panel queries that cannot return data in this test, with the reason. Keep it empty unless
/// a series truly cannot be produced on one machine in a short run.
const NO_DATA_ALLOWED: &[(&str, &str)] = &[];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_returns_data_and_every_alert_evaluates() {
    prometheus::require_installed();
    let root = repo_root().canonicalize().unwrap();
    let chart = root.join("charts/resume-progress");
    let resume = resume_analysis::fixtures::sample_resume_lines().join("\n");
    let redis = RedisServer::start();
    let files = FileServer::start(resume.clone()).await;
    let mut gateway = Service::gateway(&redis.url(), "sse-gateway-0");
    gateway.wait_ready().await;
    let api = Api::new(gateway.http_base());

    // A worker that dies mid-job, so that the observed worker takes the job over.
    let mut doomed = Service::worker(&redis.url(), "resume-worker-doomed");
    doomed.wait_ready().await;
    let hang = files.url("/hang.txt");
    assert_eq!(
        api.add_url("reclaimed", &hang, serde_json::json!({})).await,
        201
    );
    files.wait_hits("/hang.txt", 1).await;
    doomed.kill();
    let mut worker = Service::worker(&redis.url(), "resume-worker-0");
    worker.wait_ready().await;

    let mut prometheus = Prometheus::start(
        &[
            Target {
                job: "sse-gateway",
                port: gateway.admin,
                namespace: NAMESPACE,
                pod: "sse-gateway-0",
            },
            Target {
                job: "resume-worker",
                port: worker.admin,
                namespace: NAMESPACE,
                pod: "resume-worker-0",
            },
        ],
        &alert_rule_files(&chart),
    );
    prometheus.wait_targets_up(2).await;

    let streams = workload::run(&api, &redis, &files, &resume).await;
    // Prometheus has scraped the end state, and a few times more, so every rate window
    // holds the changes.
    for produced in PRODUCED {
        prometheus.wait_for(produced).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;

    let mut problems = Vec::new();
    let gateway_metrics = reqwest::get(gateway.metrics_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let worker_metrics = reqwest::get(worker.metrics_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (service, text) in [
        ("sse-gateway", &gateway_metrics),
        ("resume-worker", &worker_metrics),
    ] {
        for problem in promtool_check_metrics(text) {
            problems.push(format!("promtool check metrics ({service}): {problem}"));
        }
        problems.extend(undocumented(service, text, &root));
    }
    problems.extend(check_alerts(&prometheus).await);
    let mut panel_queries = 0;
    for file in ["sse-gateway.json", "resume-worker.json"] {
        let dashboard = Dashboard::load(&chart.join("dashboards").join(file));
        panel_queries += dashboard.queries.len();
        problems.extend(check_dashboard(&prometheus, dashboard).await);
    }
    assert!(panel_queries >= 30, "only {panel_queries} panel queries");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    drop(streams);
}

/// Metric families in `text` that docs/operations.md does not name (as `name`).
fn undocumented(service: &str, text: &str, root: &std::path::Path) -> Vec<String> {
    let docs = std::fs::read_to_string(root.join("docs/operations.md")).unwrap();
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|name| !docs.contains(&format!("`{name}`")))
        .map(|name| format!("{service} exports {name}, which docs/operations.md does not list"))
        .collect()
}

/// Every alert rule: its expression parses and runs, and Prometheus evaluated it cleanly.
async fn check_alerts(prometheus: &Prometheus) -> Vec<String> {
    let rules = prometheus.evaluated_rules().await;
    let mut problems = Vec::new();
    assert!(rules.len() >= 10, "only {} alert rules loaded", rules.len());
    for rule in rules {
        let name = rule["name"].as_str().unwrap_or_default();
        let expr = rule["query"].as_str().unwrap_or_default();
        if let Err(error) = prometheus.query(expr).await {
            problems.push(format!("alert {name}: {error}"));
        }
        if rule["health"] != "ok" {
            problems.push(format!("alert {name} evaluation: {}", rule["lastError"]));
        }
    }
    problems
}

/// Fills the variables in from their own queries, as Grafana does, then runs every panel
/// query: it must parse and return at least one sample with a number.
async fn check_dashboard(prometheus: &Prometheus, dashboard: Dashboard) -> Vec<String> {
    let file = dashboard.file.clone();
    let mut problems = dashboard.problems;
    let mut values: HashMap<String, String> = HashMap::from([
        ("__rate_interval".into(), RATE_INTERVAL.into()),
        ("datasource".into(), "prometheus".into()),
    ]);
    for variable in &dashboard.variables {
        let selector = match substitute(&variable.selector, &values) {
            Ok(selector) => selector,
            Err(error) => {
                problems.push(format!("{file}: variable {}: {error}", variable.name));
                continue;
            }
        };
        let found: Vec<String> = match prometheus.query(&selector).await {
            Ok(result) => result
                .iter()
                .filter_map(|s| s["metric"][&variable.label].as_str().map(str::to_owned))
                .collect(),
            Err(error) => {
                problems.push(format!("{file}: variable {}: {error}", variable.name));
                continue;
            }
        };
        if found.is_empty() {
            problems.push(format!(
                "{file}: variable {} ({selector}) has no values",
                variable.name
            ));
            continue;
        }
        values.insert(variable.name.clone(), regex_of(&found));
    }
    for query in &dashboard.queries {
        let at = format!("{file}: panel {:?}", query.panel);
        let expr = match substitute(&query.expr, &values) {
            Ok(expr) => expr,
            Err(error) => {
                problems.push(format!("{at}: {error}"));
                continue;
            }
        };
        let allowed = NO_DATA_ALLOWED.iter().any(|(e, _)| *e == query.expr);
        match prometheus.query(&expr).await {
            Err(error) => problems.push(format!("{at}: {expr}: {error}")),
            Ok(result) if allowed => {
                if !result.is_empty() {
                    problems.push(format!(
                        "{at}: {expr} has data now: take it off the allowlist"
                    ));
                }
            }
            Ok(result) => {
                let numbers = result.iter().any(|sample| {
                    sample["value"][1]
                        .as_str()
                        .and_then(|v| v.parse::<f64>().ok())
                        .is_some_and(f64::is_finite)
                });
                if !numbers {
                    problems.push(format!("{at}: {expr} returned no data ({result:?})"));
                }
            }
        }
    }
    problems
}
