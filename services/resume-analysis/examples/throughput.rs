//! Throughput of the whole analysis (parse + extract + analyze) per document format.
//!
//! ```text
//! cargo run --release -p resume-analysis --features fixtures --example throughput
//! ```
//!
//! Generates a 1-page PDF, a 5-page PDF, a DOCX and a text résumé, runs the pipeline on
//! each for a bounded time (`THROUGHPUT_SECONDS`, default 2) on one thread, and prints a
//! markdown table, with the time of `parse` alone. When `pdftotext` (poppler-utils) is on
//! the PATH, it is timed on the same PDFs over the same number of runs (`pdftotext file -`,
//! a process per document; capped at `PDFTOTEXT_MAX_SECONDS`, default 30) for comparison.
//! pdftotext only extracts text, our figure includes extraction and analysis as well.

use std::error::Error;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use resume_analysis::fixtures::{docx_from_paragraphs, pdf_from_lines, sample_resume_lines};
use resume_analysis::{Requirements, YearMonth, analyze, extract, parse};

struct Case {
    label: &'static str,
    file_name: &'static str,
    mime: &'static str,
    bytes: Vec<u8>,
}

struct Measured {
    runs: u32,
    elapsed: Duration,
}

impl Measured {
    fn per_second(&self) -> f64 {
        f64::from(self.runs) / self.elapsed.as_secs_f64()
    }

    fn mean_ms(&self) -> f64 {
        self.elapsed.as_secs_f64() * 1000.0 / f64::from(self.runs.max(1))
    }
}

fn seconds_from_env(name: &str, default: f64) -> Duration {
    let seconds = std::env::var(name)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(default);
    Duration::from_secs_f64(seconds)
}

fn cases() -> Vec<Case> {
    let lines = sample_resume_lines();
    // Five pages: the résumé, then four pages of project descriptions.
    let mut five = vec![lines.clone()];
    for page in 2..=5 {
        five.push(
            (1..=40)
                .map(|i| {
                    format!(
                        "Project {page}.{i}: built a Rust service on Kubernetes with PostgreSQL, \
                         Kafka and Terraform (2019 - 2021)."
                    )
                })
                .collect(),
        );
    }
    vec![
        Case {
            label: "PDF, 1 page",
            file_name: "resume-1.pdf",
            mime: "application/pdf",
            bytes: pdf_from_lines(std::slice::from_ref(&lines)),
        },
        Case {
            label: "PDF, 5 pages",
            file_name: "resume-5.pdf",
            mime: "application/pdf",
            bytes: pdf_from_lines(&five),
        },
        Case {
            label: "DOCX",
            file_name: "resume.docx",
            mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            bytes: docx_from_paragraphs(&lines),
        },
        Case {
            label: "Text",
            file_name: "resume.txt",
            mime: "text/plain",
            bytes: lines.join("\n").into_bytes(),
        },
    ]
}

/// Runs the whole pipeline (or only `parse`) on `case` until `budget` has passed.
fn measure_ours(case: &Case, budget: Duration, whole: bool) -> Result<Measured, Box<dyn Error>> {
    let today = YearMonth::new(2026, 1);
    let requirements = Requirements {
        required_skills: vec!["Rust".into(), "k8s".into(), "Haskell".into()],
        job_description: None,
    };
    let once = || -> Result<(), Box<dyn Error>> {
        let document = parse(&case.bytes, Some(case.mime), Some(case.file_name))?;
        if whole {
            let profile = extract(&document.text, today);
            black_box(analyze(&profile, Some(&requirements)));
        } else {
            black_box(document);
        }
        Ok(())
    };
    once()?; // warm-up: the taxonomy and regexes are built once
    let start = Instant::now();
    let mut runs = 0;
    while start.elapsed() < budget {
        once()?;
        runs += 1;
    }
    Ok(Measured {
        runs,
        elapsed: start.elapsed(),
    })
}

fn pdftotext_available() -> bool {
    Command::new("pdftotext")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// `pdftotext file -` run `runs` times, or until `cap` has passed.
fn measure_pdftotext(path: &Path, runs: u32, cap: Duration) -> Result<Measured, Box<dyn Error>> {
    let start = Instant::now();
    let mut done = 0;
    while done < runs && start.elapsed() < cap {
        let status = Command::new("pdftotext")
            .arg(path)
            .arg("-")
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            return Err(format!("pdftotext failed on {}: {status}", path.display()).into());
        }
        done += 1;
    }
    Ok(Measured {
        runs: done,
        elapsed: start.elapsed(),
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let budget = seconds_from_env("THROUGHPUT_SECONDS", 2.0);
    let cap = seconds_from_env("PDFTOTEXT_MAX_SECONDS", 30.0);
    let poppler = pdftotext_available();
    let dir: PathBuf =
        std::env::temp_dir().join(format!("resume-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Single thread, {:.1} s per format; ours = parse + extract + analyze.\n",
        budget.as_secs_f64()
    )?;
    writeln!(
        out,
        "| format | bytes | runs | docs/s | mean ms/doc | parse-only ms/doc | pdftotext runs | pdftotext docs/s | ours ÷ pdftotext |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    let result = (|| -> Result<(), Box<dyn Error>> {
        for case in cases() {
            let ours = measure_ours(&case, budget, true)?;
            let parse_only = measure_ours(&case, budget / 2, false)?;
            let (their_runs, theirs, ratio) = if poppler && case.mime == "application/pdf" {
                let path = dir.join(case.file_name);
                std::fs::write(&path, &case.bytes)?;
                let theirs = measure_pdftotext(&path, ours.runs, cap)?;
                (
                    theirs.runs.to_string(),
                    format!("{:.1}", theirs.per_second()),
                    format!("{:.1}×", ours.per_second() / theirs.per_second()),
                )
            } else {
                let na = if poppler { "n/a" } else { "not installed" };
                ("–".to_owned(), na.to_owned(), "–".to_owned())
            };
            writeln!(
                out,
                "| {} | {} | {} | {:.1} | {:.3} | {:.3} | {} | {} | {} |",
                case.label,
                case.bytes.len(),
                ours.runs,
                ours.per_second(),
                ours.mean_ms(),
                parse_only.mean_ms(),
                their_runs,
                theirs,
                ratio
            )?;
        }
        Ok(())
    })();
    std::fs::remove_dir_all(&dir)?;
    result
}
