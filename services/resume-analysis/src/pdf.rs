//! PDF text via pdf-extract (on lopdf). A hostile PDF can make the parser panic; that is
//! caught and reported as a corrupt file. Password-protected files are recognised before
//! extraction.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pdf_extract::{Document as PdfDocument, PlainTextOutput, output_doc};

use crate::error::ParseError;

/// Text and page count of a PDF.
pub fn read(bytes: &[u8]) -> Result<(String, u32), ParseError> {
    let loaded = catch_unwind(AssertUnwindSafe(|| PdfDocument::load_mem(bytes)))
        .map_err(|_| ParseError::Corrupt("the PDF structure is damaged".into()))?;
    let mut document = match loaded {
        Ok(document) => document,
        Err(error) if declares_encryption(bytes) => {
            let _ = error;
            return Err(ParseError::Encrypted);
        }
        Err(error) => return Err(ParseError::Corrupt(short(&error.to_string()))),
    };
    if document.is_encrypted() && document.decrypt("").is_err() {
        // Readable only with a user password.
        return Err(ParseError::Encrypted);
    }
    let pages = u32::try_from(document.get_pages().len()).unwrap_or(u32::MAX);
    if pages == 0 {
        return Err(ParseError::Corrupt("the PDF has no pages".into()));
    }
    let mut text = String::new();
    let extracted = catch_unwind(AssertUnwindSafe(|| {
        let mut output = PlainTextOutput::new(&mut text);
        output_doc(&document, &mut output)
    }));
    match extracted {
        Err(_) => {
            return Err(ParseError::Corrupt(
                "the PDF content cannot be decoded".into(),
            ));
        }
        Ok(Err(error)) => return Err(ParseError::Corrupt(short(&error.to_string()))),
        Ok(Ok(())) => {}
    }
    if text.trim().is_empty() {
        return Err(ParseError::NoText);
    }
    Ok((text, pages))
}

/// True when the trailer names an `/Encrypt` dictionary.
fn declares_encryption(bytes: &[u8]) -> bool {
    bytes.windows(8).any(|w| w == b"/Encrypt")
}

fn short(message: &str) -> String {
    message.chars().take(160).collect()
}
