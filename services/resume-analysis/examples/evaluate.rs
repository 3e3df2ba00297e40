//! Runs the analysis over the evaluation set (`eval/cases`) and prints per-field
//! precision and recall, the per-source table and every miss.
//!
//! `cargo run -p resume-analysis --features fixtures --example evaluate [-- DIR]`
//!
//! With `EVAL_SHOW=<case id>`, prints that case's extracted text (and, for a PDF, the text
//! poppler's `pdftotext` reads) instead.
//!
//! Exits with status 1 when a target is missed. Needs `groff` and Ghostscript for the
//! cases they typeset (`scripts/install-deps.sh`).

use std::io::Write;

use resume_analysis::evaluation::{cases, report, score};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(cases::default_dir, std::path::PathBuf::from);
    let set = match cases::load_all(&dir) {
        Ok(set) => set,
        Err(error) => {
            eprintln!("cannot load the evaluation set: {error}");
            std::process::exit(2);
        }
    };
    if let Ok(id) = std::env::var("EVAL_SHOW") {
        show(set.iter().find(|c| c.id == id));
        return;
    }
    let results: Vec<score::CaseResult> = set.iter().map(score::evaluate).collect();
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", report::render(&results));
    let missed = report::Summary::of(&results).missed_targets();
    if !missed.is_empty() {
        let _ = writeln!(out, "\nTargets missed:");
        for line in &missed {
            let _ = writeln!(out, "- {line}");
        }
        let _ = out.flush();
        std::process::exit(1);
    }
    let _ = writeln!(out, "\nAll targets met.");
}

fn show(case: Option<&cases::Case>) {
    let Some(case) = case else {
        eprintln!("no such case");
        std::process::exit(2);
    };
    let rendered = match cases::render(case) {
        Ok(rendered) => rendered,
        Err(error) => {
            eprintln!("cannot render {}: {error}", case.id);
            std::process::exit(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = match resume_analysis::parse(&rendered.bytes, None, Some(&rendered.file_name)) {
        Ok(document) => writeln!(out, "--- extracted\n{}", document.text),
        Err(error) => writeln!(out, "--- unreadable: {error}"),
    };
    if case.render.is_pdf() {
        let _ = match resume_analysis::evaluation::words::pdftotext(&rendered.bytes) {
            Ok(text) => writeln!(out, "--- pdftotext\n{text}"),
            Err(error) => writeln!(out, "--- pdftotext failed: {error}"),
        };
    }
}
