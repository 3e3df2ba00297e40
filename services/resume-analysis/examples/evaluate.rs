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
    print!("{}", report::render(&results));
    let missed = report::Summary::of(&results).missed_targets();
    if !missed.is_empty() {
        println!("\nTargets missed:");
        for line in &missed {
            println!("- {line}");
        }
        std::process::exit(1);
    }
    println!("\nAll targets met.");
}

fn show(case: Option<&cases::Case>) {
    let Some(case) = case else {
        eprintln!("no such case");
        std::process::exit(2);
    };
    let rendered = cases::render(case).unwrap_or_else(|e| panic!("{e}"));
    match resume_analysis::parse(&rendered.bytes, None, Some(&rendered.file_name)) {
        Ok(document) => println!("--- extracted\n{}", document.text),
        Err(error) => println!("--- unreadable: {error}"),
    }
    if case.render.is_pdf() {
        match resume_analysis::evaluation::words::pdftotext(&rendered.bytes) {
            Ok(text) => println!("--- pdftotext\n{text}"),
            Err(error) => println!("--- pdftotext failed: {error}"),
        }
    }
}
