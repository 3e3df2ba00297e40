//! DOCX text: paragraphs of `word/document.xml`. The decompressed part is capped so a zip
//! bomb cannot exhaust memory.

use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::ParseError;

/// Largest `word/document.xml` read, decompressed.
const MAX_XML_BYTES: u64 = 20 * 1024 * 1024;

pub fn read(bytes: &[u8]) -> Result<String, ParseError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ParseError::Corrupt(format!("the DOCX archive is damaged ({e})")))?;
    let mut part = archive
        .by_name("word/document.xml")
        .map_err(|_| ParseError::Corrupt("the DOCX has no document body".into()))?;
    let mut xml = String::new();
    part.by_ref()
        .take(MAX_XML_BYTES + 1)
        .read_to_string(&mut xml)
        .map_err(|e| ParseError::Corrupt(format!("the DOCX body cannot be read ({e})")))?;
    if xml.len() as u64 > MAX_XML_BYTES {
        return Err(ParseError::Corrupt(
            "the DOCX body is unreasonably large".into(),
        ));
    }
    let text = paragraphs(&xml)?;
    if text.trim().is_empty() {
        return Err(ParseError::NoText);
    }
    Ok(text)
}

/// Text runs (`w:t`) joined into lines per paragraph (`w:p`); `w:tab` and `w:br` kept.
fn paragraphs(xml: &str) -> Result<String, ParseError> {
    let mut reader = Reader::from_str(xml);
    let mut out = String::new();
    let mut in_text = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| ParseError::Corrupt(format!("the DOCX XML is malformed ({e})")))?;
        match event {
            Event::Start(e) if e.local_name().as_ref() == "t" => in_text = true,
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => out.push('\n'),
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "tab" => out.push('\t'),
                "br" | "cr" => out.push('\n'),
                "p" => out.push('\n'),
                _ => {}
            },
            Event::Text(e) if in_text => out.push_str(&e.xml10_content()),
            Event::GeneralRef(e) if in_text => {
                if let Ok(Some(c)) = e.resolve_char_ref() {
                    out.push(c);
                } else {
                    out.push_str(match e.xml10_content().as_ref() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::paragraphs;

    #[test]
    fn joins_runs_and_resolves_entities() {
        let xml = r#"<w:document xmlns:w="x"><w:body>
            <w:p><w:r><w:t>Jane</w:t></w:r><w:r><w:t xml:space="preserve"> Doe</w:t></w:r></w:p>
            <w:p><w:r><w:t>R&amp;D</w:t><w:tab/><w:t>&#169; 2024</w:t></w:r></w:p>
        </w:body></w:document>"#;
        assert_eq!(paragraphs(xml).unwrap(), "Jane Doe\nR&D\t© 2024\n");
    }
}
