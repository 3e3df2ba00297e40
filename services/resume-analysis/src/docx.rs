//! DOCX text: the paragraphs of `word/document.xml`, read with zip and quick-xml.
//!
//! Paragraphs (`w:p`) become lines, text runs (`w:t`) are joined, `w:tab` becomes a tab and
//! `w:br`/`w:cr` a newline (only inside runs: tab *stops* in paragraph properties are not
//! text). Entity references (`&amp;`, `&#169;`) arrive as separate events in quick-xml
//! 0.42 and are resolved. The decompressed part is capped so a zip bomb cannot exhaust
//! memory.

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
    if part.size() > MAX_XML_BYTES {
        return Err(too_large());
    }
    let mut xml = String::new();
    part.by_ref()
        .take(MAX_XML_BYTES + 1)
        .read_to_string(&mut xml)
        .map_err(|e| ParseError::Corrupt(format!("the DOCX body cannot be read ({e})")))?;
    // The declared size can lie; what was actually inflated is what counts.
    if xml.len() as u64 > MAX_XML_BYTES {
        return Err(too_large());
    }
    let text = paragraphs(&xml)?;
    if text.trim().is_empty() {
        return Err(ParseError::NoText);
    }
    Ok(text)
}

fn too_large() -> ParseError {
    ParseError::TooLarge("the DOCX body expands to over 20 MiB of XML".into())
}

/// Deepest XML element nesting read (Word writes a few dozen levels at most).
const MAX_DEPTH: usize = 1_000;

/// Text runs (`w:t`) joined into lines per paragraph (`w:p`); `w:tab` and `w:br` kept.
fn paragraphs(xml: &str) -> Result<String, ParseError> {
    let mut reader = Reader::from_str(xml);
    let mut out = String::new();
    let mut in_text = false;
    let mut run_depth = 0usize;
    let mut depth = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| ParseError::Corrupt(format!("the DOCX XML is malformed ({e})")))?;
        match event {
            Event::Start(e) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ParseError::TooComplex(format!(
                        "the DOCX XML nests more than {MAX_DEPTH} levels deep"
                    )));
                }
                match e.local_name().as_ref() {
                    "t" => in_text = true,
                    "r" => run_depth += 1,
                    _ => {}
                }
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                match e.local_name().as_ref() {
                    "t" => in_text = false,
                    "r" => run_depth = run_depth.saturating_sub(1),
                    "p" => out.push('\n'),
                    _ => {}
                }
            }
            Event::Empty(e) => match e.local_name().as_ref() {
                "tab" if run_depth > 0 => out.push('\t'),
                "br" | "cr" if run_depth > 0 => out.push('\n'),
                "noBreakHyphen" if run_depth > 0 => out.push('-'),
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

    #[test]
    fn tab_stops_and_breaks() {
        let xml = r#"<w:document xmlns:w="x"><w:body>
            <w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>
              <w:r><w:t>Acme</w:t><w:tab/><w:t>2019</w:t><w:br/><w:t>Lead</w:t></w:r></w:p>
            <w:p/>
            <w:p><w:r><w:t>e</w:t><w:noBreakHyphen/><w:t>mail &lt;x&gt; &quot;q&quot;</w:t></w:r></w:p>
        </w:body></w:document>"#;
        assert_eq!(
            paragraphs(xml).unwrap(),
            "Acme\t2019\nLead\n\ne-mail <x> \"q\"\n"
        );
    }

    #[test]
    fn deep_nesting_is_too_complex() {
        let xml = format!("{}{}", "<w:x>".repeat(5_000), "</w:x>".repeat(5_000));
        assert_eq!(paragraphs(&xml).unwrap_err().code(), "document_too_complex");
        let xml = format!("{}<w:t>ok</w:t>{}", "<w:x>".repeat(50), "</w:x>".repeat(50));
        assert_eq!(paragraphs(&xml).unwrap(), "ok");
    }

    #[test]
    fn malformed_xml_is_corrupt() {
        let error = paragraphs("<w:p><w:t>x</w:p></w:t>").unwrap_err();
        assert_eq!(error.code(), "corrupt");
    }
}
