//! A real Prometheus server (Debian's `prometheus` package) on a free port, with its own
//! configuration and storage in a scratch directory, and its HTTP API.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use test_support::free_port;

use crate::WAIT;

const INSTALL: &str = "sudo apt-get install -y prometheus (Debian's package; it provides \
                       /usr/bin/prometheus and promtool)";

/// Where `name` is on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Fails the test with the install command when Prometheus or promtool is missing.
pub fn require_installed() {
    for tool in ["prometheus", "promtool"] {
        assert!(
            which(tool).is_some(),
            "`{tool}` is not installed, and this test runs a real Prometheus: {INSTALL}"
        );
    }
}

/// A directory removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(label: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!("{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One scrape target: the job name the chart's monitors give it, its admin port, and the
/// `namespace`/`pod` labels Kubernetes discovery would attach.
pub struct Target<'a> {
    pub job: &'a str,
    pub port: u16,
    pub namespace: &'a str,
    pub pod: &'a str,
}

pub struct Prometheus {
    child: Child,
    base: String,
    http: reqwest::Client,
    _dir: Scratch,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` every second and evaluating `rule_files` every
    /// second.
    pub fn start(targets: &[Target<'_>], rule_files: &[PathBuf]) -> Self {
        let dir = Scratch::new("observability-prometheus");
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n",
        );
        config.push_str("rule_files:\n");
        for file in rule_files {
            config.push_str(&format!("  - {:?}\n", file.display().to_string()));
        }
        config.push_str("scrape_configs:\n");
        for target in targets {
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n        \
                 labels: {{namespace: {namespace}, pod: {pod}}}\n",
                job = target.job,
                port = target.port,
                namespace = target.namespace,
                pod = target.pod,
            ));
        }
        let config_file = dir.0.join("prometheus.yml");
        std::fs::write(&config_file, config).unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting prometheus ({INSTALL}): {e}"));
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn get(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), params)
            .map_err(|e| e.to_string())?;
        let response = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if body["status"] == "success" {
            Ok(body["data"].clone())
        } else {
            Err(format!("{}: {}", body["errorType"], body["error"]))
        }
    }

    /// Waits until Prometheus answers and every target has been scraped successfully.
    pub async fn wait_targets_up(&mut self, count: usize) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited: {status}");
            }
            if let Ok(data) = self.get("/api/v1/targets", &[]).await {
                let active = data["activeTargets"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let up = active.iter().filter(|t| t["health"] == "up").count();
                if up == count {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "targets not all up: {active:?}"
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "prometheus did not answer"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An instant query, now: the result samples, or Prometheus' error.
    pub async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.get("/api/v1/query", &[("query", expr)]).await?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// Waits until `expr` returns a sample.
    pub async fn wait_for(&self, expr: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.query(expr).await {
                Ok(result) if !result.is_empty() => return,
                Ok(_) => {}
                Err(error) => panic!("{expr}: {error}"),
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Prometheus never saw {expr}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every loaded rule, once each has been evaluated at least once.
    pub async fn evaluated_rules(&self) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let data = self.get("/api/v1/rules", &[]).await.unwrap();
            let rules: Vec<Value> = data["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .collect();
            if !rules.is_empty() && rules.iter().all(|r| r["health"] != "unknown") {
                return rules;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "rules never evaluated: {rules:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `promtool check metrics` on one exposition: every problem it reports.
pub fn promtool_check_metrics(text: &str) -> Vec<String> {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running promtool ({INSTALL}): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let mut problems: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&output.stderr).lines())
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if !output.status.success() && problems.is_empty() {
        problems.push(format!(
            "promtool check metrics exited with {}",
            output.status
        ));
    }
    problems
}

/// The rule files the chart ships.
pub fn alert_rule_files(chart: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(chart.join("alerts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}
