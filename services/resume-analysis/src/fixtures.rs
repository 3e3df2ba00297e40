//! Real documents for tests and benchmarks: multi-page PDFs with a text layer, DOCX files,
//! an encrypted PDF and a damaged one, and a realistic résumé to put in them.

use std::io::{Cursor, Write};

use pdf_extract::{
    Dictionary, Document, EncryptionState, EncryptionVersion, Object, Permissions, Stream,
    StringFormat,
};

/// A résumé with every kind of detail the extractor looks for.
pub fn sample_resume_lines() -> Vec<String> {
    [
        "Jane Doe",
        "Senior Software Engineer",
        "jane.doe@example.com | +1 (555) 123-4567 | linkedin.com/in/janedoe | github.com/janedoe | https://janedoe.dev",
        "Summary",
        "Backend engineer building distributed systems in Rust, with a passion for reliable software.",
        "Experience",
        "Senior Software Engineer, Acme Corp, Jan 2019 \u{2013} Present",
        "Built event pipelines in Rust and Kafka on Kubernetes; led a team of five engineers.",
        "Software Engineer, Widgets Inc, 03/2015 - 12/2018",
        "Developed REST APIs with Python, Django and PostgreSQL; introduced Docker and CI/CD.",
        "Intern, Startup Labs, 2014 - 2015",
        "Education",
        "B.Sc. Computer Science, State University, 2010 - 2014",
        "Skills",
        "Rust, Go, Python, PostgreSQL, Redis, Kubernetes, Docker, AWS, Terraform, Git",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// WinAnsi bytes for a line (the standard fonts' encoding); unknown characters become `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\u{2013}' => 0x96,
            '\u{2014}' => 0x97,
            '\u{2022}' => 0x95,
            c if (c as u32) < 0x80 => c as u8,
            c if (0xA0..=0xFF).contains(&(c as u32)) => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

/// A PDF literal string: parentheses, backslashes and line breaks escaped.
fn pdf_literal(text: &str) -> Vec<u8> {
    let mut out = vec![b'('];
    for byte in win_ansi(text) {
        match byte {
            b'(' | b')' | b'\\' => out.extend([b'\\', byte]),
            b'\r' => out.extend(b"\\r"),
            b'\n' => out.extend(b"\\n"),
            _ => out.push(byte),
        }
    }
    out.push(b')');
    out
}

/// A page's content stream: Helvetica 10 pt, one `Tj` per line, 14 pt apart.
fn page_content(lines: &[String]) -> Vec<u8> {
    let mut content = b"BT\n/F1 10 Tf\n40 800 Td\n".to_vec();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            content.extend(b"0 -14 Td\n");
        }
        content.extend(pdf_literal(line));
        content.extend(b" Tj\n");
    }
    content.extend(b"ET\n");
    content
}

fn build_pdf(pages: &[Vec<String>]) -> Document {
    let contents: Vec<Vec<u8>> = pages.iter().map(|lines| page_content(lines)).collect();
    build_pdf_with(&contents)
}

/// A PDF with the given page content streams and Helvetica as `/F1`.
fn build_pdf_with(contents: &[Vec<u8>]) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut font = Dictionary::new();
    font.set("Type", Object::Name(b"Font".to_vec()));
    font.set("Subtype", Object::Name(b"Type1".to_vec()));
    font.set("BaseFont", Object::Name(b"Helvetica".to_vec()));
    font.set("Encoding", Object::Name(b"WinAnsiEncoding".to_vec()));
    let font_id = doc.add_object(font);
    let mut fonts = Dictionary::new();
    fonts.set("F1", Object::Reference(font_id));
    let mut resources = Dictionary::new();
    resources.set("Font", Object::Dictionary(fonts));
    let resources_id = doc.add_object(resources);

    let mut kids = Vec::new();
    for content in contents {
        let mut stream = Stream::new(Dictionary::new(), content.clone());
        // Flate, like real producers; an uncompressed stream is as valid if this fails.
        let _ = stream.compress();
        let content_id = doc.add_object(stream);
        let mut page = Dictionary::new();
        page.set("Type", Object::Name(b"Page".to_vec()));
        page.set("Parent", Object::Reference(pages_id));
        page.set("Contents", Object::Reference(content_id));
        kids.push(Object::Reference(doc.add_object(page)));
    }
    let mut pages_dict = Dictionary::new();
    pages_dict.set("Type", Object::Name(b"Pages".to_vec()));
    pages_dict.set("Count", Object::Integer(kids.len() as i64));
    pages_dict.set("Kids", Object::Array(kids));
    pages_dict.set("Resources", Object::Reference(resources_id));
    pages_dict.set(
        "MediaBox",
        Object::Array(vec![0.into(), 0.into(), 595.into(), 842.into()]),
    );
    doc.objects.insert(pages_id, Object::Dictionary(pages_dict));
    let mut catalog = Dictionary::new();
    catalog.set("Type", Object::Name(b"Catalog".to_vec()));
    catalog.set("Pages", Object::Reference(pages_id));
    let catalog_id = doc.add_object(catalog);
    doc.trailer.set("Root", Object::Reference(catalog_id));
    doc.trailer.set(
        "ID",
        Object::Array(vec![
            Object::String(b"resume-fixture-id-0".to_vec(), StringFormat::Hexadecimal),
            Object::String(b"resume-fixture-id-0".to_vec(), StringFormat::Hexadecimal),
        ]),
    );
    doc
}

fn save(mut doc: Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("writing a PDF to memory");
    out
}

/// A PDF with one page per entry of `pages`, each line a text line.
pub fn pdf_from_lines(pages: &[Vec<String>]) -> Vec<u8> {
    save(build_pdf(pages))
}

fn encrypted(user_password: &str) -> Vec<u8> {
    let mut doc = build_pdf(&[sample_resume_lines()]);
    let version = EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner-secret",
        user_password,
        key_length: 128,
        permissions: Permissions::all(),
    };
    let state = EncryptionState::try_from(version).expect("encryption parameters");
    doc.encrypt(&state).expect("encrypting the fixture");
    save(doc)
}

/// A really encrypted PDF (RC4 128-bit, lopdf's own encryption), which opens only with the
/// user password `secret`.
pub fn encrypted_pdf() -> Vec<u8> {
    encrypted("secret")
}

/// The sample résumé encrypted with an owner password only: like any viewer, the reader
/// opens it with the empty user password.
pub fn owner_protected_pdf() -> Vec<u8> {
    encrypted("")
}

/// A well-formed PDF that shows text before selecting a font: pdf-extract 0.12 panics on
/// it (`show_text` unwraps the font), which the reader must turn into a clean error.
pub fn panicking_pdf() -> Vec<u8> {
    save(build_pdf_with(&[
        b"BT\n40 800 Td\n(Jane Doe) Tj\nET\n".to_vec()
    ]))
}

/// A PDF whose body is cut off and overwritten with garbage.
pub fn corrupt_pdf() -> Vec<u8> {
    let mut bytes = pdf_from_lines(&[sample_resume_lines()]);
    let keep = bytes.len() / 3;
    bytes.truncate(keep);
    bytes.extend_from_slice(b"\x00\xff garbage endobj xref trailer << /Root 99 0 R >> %%EOF");
    bytes
}

pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A minimal, valid DOCX with one paragraph per entry (tabs become `w:tab`).
pub fn docx_from_paragraphs(paragraphs: &[String]) -> Vec<u8> {
    docx_from_body(&paragraphs_xml(paragraphs))
}

/// WordprocessingML paragraphs, one per entry (tabs become `w:tab`).
pub fn paragraphs_xml(paragraphs: &[String]) -> String {
    let mut body = String::new();
    for paragraph in paragraphs {
        body.push_str("<w:p><w:r>");
        for (i, part) in paragraph.split('\t').enumerate() {
            if i > 0 {
                body.push_str("<w:tab/>");
            }
            body.push_str(&format!(
                "<w:t xml:space=\"preserve\">{}</w:t>",
                xml_escape(part)
            ));
        }
        body.push_str("</w:r></w:p>");
    }
    body
}

/// A minimal, valid DOCX whose `w:body` holds `body` (WordprocessingML).
pub fn docx_from_body(body: &str) -> Vec<u8> {
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
    );
    let content_types = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
        <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
        <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
        <Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>\
        </Types>";
    let rels = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
        <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/>\
        </Relationships>";
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in [
        ("[Content_Types].xml", content_types.to_owned()),
        ("_rels/.rels", rels.to_owned()),
        ("word/document.xml", document),
    ] {
        zip.start_file(name, options).expect("zip entry");
        zip.write_all(content.as_bytes()).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_parentheses_backslashes_and_dashes() {
        assert_eq!(pdf_literal(r"a (b) \c"), br"(a \(b\) \\c)".to_vec());
        assert_eq!(pdf_literal("x)\r"), br"(x\)\r)".to_vec());
        assert_eq!(
            pdf_literal("2019 \u{2013} Now"),
            b"(2019 \x96 Now)".to_vec()
        );
        assert_eq!(pdf_literal("\u{4e2d}"), b"(?)".to_vec());
    }

    #[test]
    fn pages_hold_one_text_line_per_entry() {
        let content = page_content(&["One".into(), "Two".into()]);
        assert_eq!(
            String::from_utf8(content).unwrap(),
            "BT\n/F1 10 Tf\n40 800 Td\n(One) Tj\n0 -14 Td\n(Two) Tj\nET\n"
        );
        let pdf = pdf_from_lines(&[vec!["a".into()], vec!["b".into()], vec![]]);
        assert!(pdf.starts_with(b"%PDF-1.5"));
        let doc = Document::load_mem(&pdf).unwrap();
        assert_eq!(doc.get_pages().len(), 3);
        assert!(Document::load_mem(&encrypted_pdf()).unwrap().is_encrypted());
    }
}
