//! The PDF reader, behind the upload's format detection: whatever the bytes after a PDF
//! header, parsing ends with text or a `ParseError`, never a panic out of it or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    resume_progress_fuzz::quiet_caught_panics();
    // Seeds are real PDFs; other inputs get a header so they reach the PDF reader.
    let mut bytes = Vec::with_capacity(input.len() + 9);
    if !input.starts_with(b"%PDF") {
        bytes.extend_from_slice(b"%PDF-1.4\n");
    }
    bytes.extend_from_slice(input);
    let _ = resume_analysis::parse(&bytes, Some("application/pdf"), Some("cv.pdf"));
});
