//! File type detection from the bytes. The declared MIME type and file name only decide
//! between plain text and Markdown; they never override what the bytes say.

use serde::{Deserialize, Serialize};

use crate::error::ParseError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pdf,
    Docx,
    Text,
    Markdown,
}

/// Recognisable formats we do not read, by magic bytes.
const UNSUPPORTED: &[(&[u8], &str)] = &[
    (
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
        "legacy Word .doc (save it as DOCX or PDF)",
    ),
    (b"\x89PNG", "PNG image"),
    (b"\xFF\xD8\xFF", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"{\\rtf", "RTF document (save it as DOCX or PDF)"),
    (b"\x1F\x8B", "gzip archive"),
    (b"Rar!", "RAR archive"),
    (b"7z\xBC\xAF", "7-Zip archive"),
];

/// Decides the format of `bytes`.
pub fn detect_format(
    bytes: &[u8],
    mime_type: Option<&str>,
    file_name: Option<&str>,
) -> Result<Format, ParseError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Ok(Format::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return if bytes.windows(17).any(|w| w == b"word/document.xml") {
            Ok(Format::Docx)
        } else {
            Err(ParseError::Unsupported(
                "a ZIP archive that is not a Word document".into(),
            ))
        };
    }
    for (magic, name) in UNSUPPORTED {
        if bytes.starts_with(magic) {
            return Err(ParseError::Unsupported((*name).into()));
        }
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Ok(text) = std::str::from_utf8(text) else {
        return Err(ParseError::Unsupported("a binary file".into()));
    };
    let control = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
        .count();
    if control * 100 > text.chars().count().max(1) {
        return Err(ParseError::Unsupported("a binary file".into()));
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
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert_eq!(detect_format(b"", None, None), Err(ParseError::Empty));
        assert_eq!(detect_format(b"  \n ", None, None), Err(ParseError::Empty));
        assert!(
            matches!(detect_format(b"\x89PNG\r\n\x1a\n", None, None), Err(ParseError::Unsupported(m)) if m.contains("PNG"))
        );
        assert!(
            matches!(detect_format(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest", None, None), Err(ParseError::Unsupported(m)) if m.contains(".doc"))
        );
        assert!(matches!(
            detect_format(b"PK\x03\x04other", None, None),
            Err(ParseError::Unsupported(_))
        ));
        assert!(matches!(
            detect_format(&[0xff, 0xfe, 0x00, 0x01, 0x02], None, None),
            Err(ParseError::Unsupported(_))
        ));
    }
}
