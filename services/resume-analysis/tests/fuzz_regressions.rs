//! Inputs found by the fuzz targets in `fuzz/` (see docs/operations.md): each once hung or
//! crashed a parser and must now end, quickly, with an error.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use resume_analysis::{ParseError, parse};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fuzz/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn a_pdf_page_that_is_its_own_parent_is_corrupt() {
    let bytes = fixture("pdf-page-is-its-own-parent.pdf");
    let started = Instant::now();
    let result = parse(&bytes, Some("application/pdf"), Some("cv.pdf"));
    assert!(
        matches!(result, Err(ParseError::Corrupt(_))),
        "{:?}",
        result.map(|d| d.text)
    );
    assert!(started.elapsed() < Duration::from_secs(10), "it ends");
}
