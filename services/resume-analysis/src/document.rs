//! From bytes to text.

use serde::{Deserialize, Serialize};

use crate::detect::{Format, detect_format};
use crate::error::ParseError;
use crate::{docx, pdf, text};

/// A readable document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub format: Format,
    pub text: String,
    /// Page count (PDF only).
    pub pages: Option<u32>,
}

/// Detects the format and extracts the text. Never panics, whatever the bytes.
pub fn parse(
    bytes: &[u8],
    mime_type: Option<&str>,
    file_name: Option<&str>,
) -> Result<Document, ParseError> {
    let format = detect_format(bytes, mime_type, file_name)?;
    let (text, pages) = match format {
        Format::Pdf => {
            let (text, pages) = pdf::read(bytes)?;
            (text, Some(pages))
        }
        Format::Docx => (docx::read(bytes)?, None),
        Format::Text => (text::read(bytes, false)?, None),
        Format::Markdown => (text::read(bytes, true)?, None),
    };
    if text.trim().is_empty() {
        return Err(ParseError::NoText);
    }
    Ok(Document {
        format,
        text,
        pages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{docx_from_paragraphs, pdf_from_lines};

    #[test]
    fn dispatches_on_the_bytes_not_the_declared_type() {
        let docx = docx_from_paragraphs(&["Jane Doe".into()]);
        let document = parse(&docx, Some("application/pdf"), Some("cv.pdf")).unwrap();
        assert_eq!((document.format, document.pages), (Format::Docx, None));
        assert_eq!(document.text, "Jane Doe\n");

        let pdf = pdf_from_lines(&[vec!["Jane Doe".into()]]);
        let document = parse(&pdf, Some("text/plain"), Some("cv.txt")).unwrap();
        assert_eq!((document.format, document.pages), (Format::Pdf, Some(1)));
        assert_eq!(document.text.trim(), "Jane Doe");
    }

    #[test]
    fn markdown_markup_only_is_no_text() {
        assert_eq!(
            parse(b"#\n## \n", Some("text/markdown"), None),
            Err(ParseError::NoText)
        );
        let document = parse(b"## Skills\n- Rust", None, Some("cv.md")).unwrap();
        assert_eq!(document.format, Format::Markdown);
        assert_eq!(document.text, "Skills\nRust");
    }
}
