//! PDF text via pdf-extract (on lopdf, which it re-exports), laid out in reading order by
//! `pdf_layout`.
//!
//! Order matters: the file is loaded, its trailer is checked for an `/Encrypt` dictionary
//! *before* any text is extracted, and only then is the text layer read. A PDF that needs
//! a user password is [`ParseError::Encrypted`]; one protected only by an owner password
//! (it opens without a password, as in any viewer) was already decrypted by lopdf while
//! loading and is read normally. The parser can panic on hostile input: every call into
//! it runs under `catch_unwind` and a panic becomes [`ParseError::Corrupt`]. Before
//! extraction, form XObjects are inlined (`pdf_forms`) and text operators the extractor
//! does not draw are spelled out (`pdf_ops`).

use std::panic::{AssertUnwindSafe, catch_unwind};

use pdf_extract::{Document as PdfDocument, output_doc};

use crate::budget;
use crate::error::ParseError;
use crate::pdf_forms;
use crate::pdf_layout::LayoutOutput;
use crate::pdf_ops;

/// Text and page count of a PDF.
pub fn read(bytes: &[u8]) -> Result<(String, u32), ParseError> {
    budget::check_raw(bytes)?;
    let loaded = catch_unwind(AssertUnwindSafe(|| PdfDocument::load_mem(bytes)))
        .map_err(|_| ParseError::Corrupt("the PDF structure is damaged".into()))?;
    let document = match loaded {
        Ok(document) => document,
        // A damaged file that also declares encryption: the password is the user's problem.
        Err(_) if trailer_declares_encryption(bytes) => return Err(ParseError::Encrypted),
        Err(error) => return Err(ParseError::Corrupt(short(&error.to_string()))),
    };
    if document.trailer.get(b"Encrypt").is_ok() && document.encryption_state.is_none() {
        // lopdf tried the empty user password while loading and it did not open.
        return Err(ParseError::Encrypted);
    }
    let pages = u32::try_from(document.get_pages().len()).unwrap_or(u32::MAX);
    if pages == 0 {
        return Err(ParseError::Corrupt("the PDF has no pages".into()));
    }
    if pages as usize > budget::MAX_PAGES {
        return Err(budget::too_many_pages(pages as usize));
    }
    if !page_tree_is_sound(&document) {
        return Err(ParseError::Corrupt(
            "the PDF page tree loops back on itself".into(),
        ));
    }
    budget::check_streams(&document)?;
    let mut document = document;
    let mut text = String::new();
    let extracted = catch_unwind(AssertUnwindSafe(|| {
        pdf_forms::inline_forms(&mut document);
        pdf_ops::spell_out_quote_operators(&mut document);
        let mut output = LayoutOutput::new(&mut text);
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
        // Pages without a text layer: typically a scan.
        return Err(ParseError::NoText);
    }
    Ok((text, pages))
}

/// Deepest page tree accepted (real files nest a few levels).
const MAX_PAGE_TREE_DEPTH: usize = 64;

/// pdf-extract follows each page's `/Parent` links recursively, without a bound: a cycle
/// (`/Parent` pointing back down, or to the page itself) would spin forever or overflow the
/// stack. Found by the `resume_pdf` fuzz target.
fn page_tree_is_sound(document: &PdfDocument) -> bool {
    document.get_pages().values().all(|page| {
        let mut seen = Vec::new();
        let mut current = Some(*page);
        while let Some(id) = current {
            if seen.contains(&id) || seen.len() >= MAX_PAGE_TREE_DEPTH {
                return false;
            }
            seen.push(id);
            current = document
                .get_dictionary(id)
                .ok()
                .and_then(|d| d.get(b"Parent").ok())
                .and_then(|parent| parent.as_reference().ok());
        }
        true
    })
}

/// True when a trailer (the last 4 KiB of the file, where trailers and cross-reference
/// streams live) names an `/Encrypt` dictionary.
fn trailer_declares_encryption(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(4096)..];
    tail.windows(8).any(|w| w == b"/Encrypt")
}

/// A parser message short enough to show to a person.
fn short(message: &str) -> String {
    let message = message.trim();
    let mut out: String = message.chars().take(160).collect();
    if out.len() < message.len() {
        out.push('…');
    }
    format!("unreadable PDF structure ({out})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_is_found_in_the_trailer_only() {
        assert!(trailer_declares_encryption(
            b"%PDF-1.4 ... trailer << /Root 1 0 R /Encrypt 5 0 R >> %%EOF"
        ));
        let mut far = b"%PDF-1.4 (/Encrypt in a text string) ".to_vec();
        far.extend(std::iter::repeat_n(b' ', 5000));
        far.extend_from_slice(b"trailer << /Root 1 0 R >> %%EOF");
        assert!(!trailer_declares_encryption(&far));
    }

    #[test]
    fn parser_messages_are_short() {
        let long = "x".repeat(500);
        let message = short(&long);
        assert!(message.starts_with("unreadable PDF structure (xxx"));
        assert!(message.chars().count() < 200, "{message}");
        assert_eq!(short("bad xref"), "unreadable PDF structure (bad xref)");
    }
}
