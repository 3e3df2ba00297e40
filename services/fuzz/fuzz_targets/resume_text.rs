//! Text and Markdown résumés through the whole pipeline: decode (UTF-8/UTF-16, BOM), extract
//! the profile, analyse it. Nothing panics whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use resume_analysis::{Requirements, YearMonth, analyze, extract, parse};

fuzz_target!(|input: &[u8]| {
    resume_progress_fuzz::quiet_caught_panics();
    for (mime, name) in [("text/plain", "cv.txt"), ("text/markdown", "cv.md")] {
        if let Ok(document) = parse(input, Some(mime), Some(name)) {
            let profile = extract(&document.text, YearMonth::new(2025, 6));
            let requirements = Requirements {
                required_skills: vec!["Rust".into(), "Kubernetes".into()],
                job_description: Some(document.text.chars().take(200).collect()),
            };
            let _ = analyze(&profile, Some(&requirements));
        }
    }
});
