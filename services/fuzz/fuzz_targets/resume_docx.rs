//! The DOCX reader (zip + XML), behind the upload's format detection: whatever follows a zip
//! header, parsing ends with text or a `ParseError`, never a panic, a hang or a zip bomb.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    resume_progress_fuzz::quiet_caught_panics();
    // Seeds are real DOCX files; other inputs get a zip header so they reach the reader.
    let mut bytes = Vec::with_capacity(input.len() + 4);
    if !input.starts_with(b"PK") {
        bytes.extend_from_slice(b"PK\x03\x04");
    }
    bytes.extend_from_slice(input);
    let _ = resume_analysis::parse(
        &bytes,
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        Some("cv.docx"),
    );
});
