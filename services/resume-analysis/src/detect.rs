//! File type detection from the bytes: `%PDF-` for PDF, a ZIP archive holding
//! `word/document.xml` for DOCX, and UTF-8 (or BOM-marked UTF-16) for text. The declared
//! MIME type and file name never override the bytes; they only decide between plain text
//! and Markdown. Recognisable formats we do not read are named in the error.

use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// A readable document format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pdf,
    Docx,
    Text,
    Markdown,
}

const UPLOAD: &str = "upload a PDF, DOCX or text file";

/// Recognisable formats we do not read, by magic bytes, with what to tell the user.
const UNSUPPORTED: &[(&[u8], &str)] = &[
    (
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
        "legacy Word .doc is not supported; save as DOCX or PDF",
    ),
    (b"\x89PNG", "PNG images are not supported"),
    (b"\xFF\xD8\xFF", "JPEG images are not supported"),
    (b"GIF8", "GIF images are not supported"),
    (b"II*\0", "TIFF images are not supported"),
    (b"MM\0*", "TIFF images are not supported"),
    (b"{\\rtf", "RTF is not supported; save as DOCX or PDF"),
    (b"\x1F\x8B", "gzip archives are not supported"),
    (b"Rar!", "RAR archives are not supported"),
    (b"7z\xBC\xAF", "7-Zip archives are not supported"),
];

/// The UTF-16 byte-order marks; such text is decoded by the text reader.
pub(crate) const UTF16_LE_BOM: &[u8] = b"\xFF\xFE";
pub(crate) const UTF16_BE_BOM: &[u8] = b"\xFE\xFF";

fn unsupported(what: &str) -> ParseError {
    if what.contains(';') {
        ParseError::Unsupported(what.to_owned())
    } else {
        ParseError::Unsupported(format!("{what}; {UPLOAD}"))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What a ZIP archive is, from the part names stored uncompressed in its headers.
fn zip_format(bytes: &[u8]) -> Result<Format, ParseError> {
    if contains(bytes, b"word/document.xml") {
        Ok(Format::Docx)
    } else if contains(bytes, b"opendocument.text") {
        Err(unsupported(
            "OpenDocument text (.odt) is not supported; save as DOCX or PDF",
        ))
    } else if contains(bytes, b"xl/workbook.xml") {
        Err(unsupported("Excel spreadsheets are not supported"))
    } else if contains(bytes, b"ppt/presentation.xml") {
        Err(unsupported("PowerPoint presentations are not supported"))
    } else {
        Err(unsupported(
            "ZIP archives other than Word documents are not supported",
        ))
    }
}

/// Decides the format of `bytes`.
pub fn detect_format(
    bytes: &[u8],
    mime_type: Option<&str>,
    file_name: Option<&str>,
) -> Result<Format, ParseError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    // The header may follow a little junk; readers accept it within the first KiB.
    if contains(&bytes[..bytes.len().min(1024)], b"%PDF-") {
        return Ok(Format::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return zip_format(bytes);
    }
    if let Some((_, what)) = UNSUPPORTED
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
    {
        return Err(unsupported(what));
    }
    let text = if bytes.starts_with(UTF16_LE_BOM) || bytes.starts_with(UTF16_BE_BOM) {
        crate::text::decode(bytes)?
    } else {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => return Err(unsupported("this binary file type is not supported")),
        }
    };
    let control = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
        .count();
    if control * 100 > text.chars().count().max(1) {
        return Err(unsupported("this binary file type is not supported"));
    }
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let markdown_hint = mime_type.is_some_and(|m| m.contains("markdown"))
        || file_name.is_some_and(|n| {
            let n = n.to_ascii_lowercase();
            n.ends_with(".md") || n.ends_with(".markdown")
        })
        || text
            .lines()
            .any(|l| l.starts_with("# ") || l.starts_with("## "));
    Ok(if markdown_hint {
        Format::Markdown
    } else {
        Format::Text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_win_over_hints() {
        assert_eq!(
            detect_format(b"%PDF-1.7\n...", Some("text/plain"), Some("cv.txt")),
            Ok(Format::Pdf)
        );
        assert_eq!(
            detect_format(b"Jane Doe\nRust", Some("application/pdf"), Some("cv.pdf")),
            Ok(Format::Text)
        );
        assert_eq!(detect_format(b"# Jane\n", None, None), Ok(Format::Markdown));
        assert_eq!(
            detect_format(b"Jane", Some("text/markdown"), None),
            Ok(Format::Markdown)
        );
        assert_eq!(
            detect_format(b"Jane", None, Some("CV.MD")),
            Ok(Format::Markdown)
        );
        assert_eq!(
            detect_format(b"\xFF\xFEJ\0a\0n\0e\0", None, None),
            Ok(Format::Text)
        );
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        let message = |bytes: &[u8]| match detect_format(bytes, None, None) {
            Err(ParseError::Unsupported(message)) => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(detect_format(b"", None, None), Err(ParseError::Empty));
        assert_eq!(detect_format(b"  \n ", None, None), Err(ParseError::Empty));
        assert_eq!(
            message(b"\x89PNG\r\n\x1a\n"),
            "PNG images are not supported; upload a PDF, DOCX or text file"
        );
        assert_eq!(
            message(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest"),
            "legacy Word .doc is not supported; save as DOCX or PDF"
        );
        assert!(message(b"\xFF\xD8\xFF\xE0").starts_with("JPEG"));
        assert!(message(b"PK\x03\x04 xl/workbook.xml").starts_with("Excel"));
        assert!(message(b"PK\x03\x04other").starts_with("ZIP archives"));
        assert!(message(&[0x80, 0xfe, 0x00, 0x01, 0x02]).contains("binary"));
        assert!(message(b"ab\x01\x02\x03\x04cd").contains("binary"));
    }
}
