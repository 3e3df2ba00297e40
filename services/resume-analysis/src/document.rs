//! From bytes to text.

use serde::{Deserialize, Serialize};

use crate::error::ParseError;
use crate::format::{Format, detect_format};
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
