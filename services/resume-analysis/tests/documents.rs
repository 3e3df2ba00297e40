#![allow(clippy::unwrap_used)]
//! Reading real documents made by the fixtures, and extracting a whole résumé.

use std::io::Write;

use resume_analysis::fixtures::{
    corrupt_pdf, docx_from_paragraphs, encrypted_pdf, owner_protected_pdf, panicking_pdf,
    pdf_from_lines, sample_resume_lines,
};
use resume_analysis::{
    Format, ParseError, Requirements, Seniority, YearMonth, analyze, extract, parse,
};

const TODAY: YearMonth = YearMonth {
    year: 2026,
    month: 11,
};

#[test]
fn reads_one_and_five_page_pdfs() {
    let one = parse(
        &pdf_from_lines(&[sample_resume_lines()]),
        Some("application/pdf"),
        None,
    )
    .unwrap();
    assert_eq!(one.format, Format::Pdf);
    assert_eq!(one.pages, Some(1));
    assert!(one.text.contains("jane.doe@example.com"), "{}", one.text);
    assert!(
        one.text.contains("Jan 2019 \u{2013} Present"),
        "the en dash survives: {}",
        one.text
    );

    let pages: Vec<Vec<String>> = (1..=5)
        .map(|p| vec![format!("Page {p} (notes) with C:\\path")])
        .collect();
    let five = parse(&pdf_from_lines(&pages), None, Some("long.pdf")).unwrap();
    assert_eq!(five.pages, Some(5));
    for p in 1..=5 {
        assert!(
            five.text
                .contains(&format!("Page {p} (notes) with C:\\path")),
            "{}",
            five.text
        );
    }
}

#[test]
fn reads_docx_with_entities_and_tabs() {
    let docx = docx_from_paragraphs(&["Jane Doe".into(), "R&D <lead>\tBerlin".into()]);
    let document = parse(&docx, Some("application/octet-stream"), Some("cv.bin")).unwrap();
    assert_eq!(document.format, Format::Docx);
    assert_eq!(document.text, "Jane Doe\nR&D <lead>\tBerlin\n");
}

#[test]
fn the_bytes_decide_whatever_the_upload_claims() {
    let docx = docx_from_paragraphs(&["Jane Doe".into()]);
    let pdf = pdf_from_lines(&[vec!["Jane Doe".into()]]);
    for (bytes, mime, name, expected) in [
        (&docx[..], "application/pdf", "cv.pdf", Format::Docx),
        (&pdf[..], "text/plain", "cv.txt", Format::Pdf),
        (
            &pdf[..],
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "cv.docx",
            Format::Pdf,
        ),
        (b"Jane Doe\nRust", "application/pdf", "cv.pdf", Format::Text),
    ] {
        assert_eq!(
            resume_analysis::detect_format(bytes, Some(mime), Some(name)),
            Ok(expected)
        );
        assert_eq!(
            parse(bytes, Some(mime), Some(name)).unwrap().format,
            expected
        );
    }
}

#[test]
fn an_owner_password_alone_does_not_stop_reading() {
    let pdf = owner_protected_pdf();
    assert!(pdf.windows(8).any(|w| w == b"/Encrypt"), "really encrypted");
    let document = parse(&pdf, Some("application/pdf"), None).unwrap();
    assert_eq!(document.pages, Some(1));
    assert!(
        document.text.contains("jane.doe@example.com"),
        "{}",
        document.text
    );
}

#[test]
fn a_docx_zip_bomb_is_refused() {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("word/document.xml", options).unwrap();
    zip.write_all(b"<w:document><w:body><w:p><w:r><w:t>")
        .unwrap();
    let block = vec![b'a'; 1 << 20];
    for _ in 0..21 {
        zip.write_all(&block).unwrap();
    }
    zip.write_all(b"</w:t></w:r></w:p></w:body></w:document>")
        .unwrap();
    let bomb = zip.finish().unwrap().into_inner();
    assert!(bomb.len() < 1 << 20, "{} bytes compressed", bomb.len());
    let error = parse(&bomb, None, None).unwrap_err();
    assert_eq!(error.code(), "document_too_large");
    assert!(error.to_string().contains("over 20 MiB"), "{error}");
}

#[test]
fn reads_text_with_a_byte_order_mark() {
    let document = parse(b"\xEF\xBB\xBFJane Doe\nRust", Some("text/plain"), None).unwrap();
    assert_eq!(document.format, Format::Text);
    assert_eq!(document.text, "Jane Doe\nRust");
}

#[test]
fn unreadable_documents_fail_with_a_clear_error() {
    assert_eq!(
        parse(&encrypted_pdf(), None, None),
        Err(ParseError::Encrypted)
    );
    assert!(ParseError::Encrypted.to_string().contains("password"));
    assert!(matches!(
        parse(&corrupt_pdf(), None, None),
        Err(ParseError::Corrupt(_))
    ));
    let garbage = b"%PDF-1.7\n\x00\x01 this is not a PDF at all \xff\xfe";
    assert_eq!(parse(garbage, None, None).unwrap_err().code(), "corrupt");
    assert_eq!(parse(b"", None, None), Err(ParseError::Empty));
    assert_eq!(
        parse(
            b"\x89PNG\r\n\x1a\n\0\0",
            Some("application/pdf"),
            Some("cv.pdf")
        ),
        Err(ParseError::Unsupported(
            "PNG images are not supported; upload a PDF, DOCX or text file".into()
        ))
    );
    let doc = parse(
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0",
        None,
        Some("cv.doc"),
    )
    .unwrap_err();
    assert_eq!(
        doc.to_string(),
        "legacy Word .doc is not supported; save as DOCX or PDF"
    );
    let blank = pdf_from_lines(&[vec![" ".into()]]);
    assert_eq!(parse(&blank, None, None), Err(ParseError::NoText));
    let not_docx = b"PK\x03\x04 word/document.xml but not a zip at all".to_vec();
    assert!(matches!(
        parse(&not_docx, None, None),
        Err(ParseError::Corrupt(_))
    ));
}

#[test]
fn a_parser_panic_becomes_a_corrupt_file() {
    let error = parse(&panicking_pdf(), Some("application/pdf"), None).unwrap_err();
    assert_eq!(
        error,
        ParseError::Corrupt("the PDF content cannot be decoded".into())
    );
}

#[test]
fn truncated_pdfs_never_panic() {
    let pdf = pdf_from_lines(&[sample_resume_lines()]);
    let mut codes = std::collections::BTreeMap::new();
    for cut in (16..pdf.len()).step_by(37) {
        let code = match parse(&pdf[..cut], None, None) {
            Ok(document) => {
                // lopdf can rebuild a lost cross-reference table; then the text is real.
                assert!(
                    document.text.contains("Jane Doe"),
                    "{cut}: {}",
                    document.text
                );
                "ok"
            }
            Err(error) => error.code(),
        };
        *codes.entry(code).or_insert(0) += 1;
    }
    assert!(codes["corrupt"] >= 10, "{codes:?}");
    assert!(
        codes
            .keys()
            .all(|c| ["ok", "corrupt", "no_text"].contains(c)),
        "{codes:?}"
    );
    let mut flipped = pdf.clone();
    for i in (200..flipped.len()).step_by(53) {
        flipped[i] ^= 0x5a;
    }
    let code = parse(&flipped, None, None).map_or_else(|e| e.code(), |_| "ok");
    assert!(["ok", "corrupt", "no_text"].contains(&code), "{code}");
}

#[test]
fn extracts_the_sample_resume() {
    let text = parse(&pdf_from_lines(&[sample_resume_lines()]), None, None)
        .unwrap()
        .text;
    let profile = extract(&text, TODAY);
    assert_eq!(profile.name.as_deref(), Some("Jane Doe"));
    assert_eq!(
        profile.headline.as_deref(),
        Some("Senior Software Engineer")
    );
    assert_eq!(profile.email.as_deref(), Some("jane.doe@example.com"));
    assert_eq!(profile.phone.as_deref(), Some("+15551234567"));
    assert_eq!(
        profile.links.linkedin.as_deref(),
        Some("https://linkedin.com/in/janedoe")
    );
    assert_eq!(
        profile.links.github.as_deref(),
        Some("https://github.com/janedoe")
    );
    assert_eq!(
        profile.links.portfolio.as_deref(),
        Some("https://janedoe.dev")
    );
    assert!(
        profile
            .sections
            .education
            .as_deref()
            .unwrap()
            .contains("State University")
    );
    assert_eq!(profile.positions.len(), 3, "{:?}", profile.positions);
    // Jan 2019–Nov 2026 (94 months) + Mar 2015–Dec 2018 (45) + 2014–2015 (12), education excluded.
    assert_eq!(profile.years_of_experience, 12.6);
    let skills: Vec<&str> = profile.skills.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "Rust",
        "Go",
        "Python",
        "PostgreSQL",
        "Redis",
        "Kubernetes",
        "Docker",
        "AWS",
        "Kafka",
        "Django",
        "CI/CD",
        "Leadership",
    ] {
        assert!(
            skills.contains(&expected),
            "{expected} missing from {skills:?}"
        );
    }
    let analysis = analyze(
        &profile,
        Some(&Requirements {
            required_skills: vec!["Rust".into(), "k8s".into(), "Haskell".into()],
            job_description: None,
        }),
    );
    assert_eq!(analysis.seniority, Seniority::Senior);
    let matching = analysis.r#match.unwrap();
    assert_eq!(matching.score, 67);
    assert_eq!(matching.missing, ["Haskell"]);
    assert!(analysis.skills_by_category["databases"].contains(&"PostgreSQL".to_owned()));
}

#[test]
fn docx_and_pdf_extract_the_same_profile() {
    let lines = sample_resume_lines();
    let from_pdf = extract(
        &parse(&pdf_from_lines(std::slice::from_ref(&lines)), None, None)
            .unwrap()
            .text,
        TODAY,
    );
    let from_docx = extract(
        &parse(&docx_from_paragraphs(&lines), None, None)
            .unwrap()
            .text,
        TODAY,
    );
    assert_eq!(from_pdf.email, from_docx.email);
    assert_eq!(from_pdf.years_of_experience, from_docx.years_of_experience);
    assert_eq!(from_pdf.skills, from_docx.skills);
}
