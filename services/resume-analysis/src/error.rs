//! Why a document cannot be read. The messages (`Display`) are written for the person who
//! uploaded the file and say what to do; [`ParseError::code`] is a stable machine-readable
//! kind for APIs and metrics.

/// A document that cannot be read.
///
/// `Corrupt` carries a short detail of what is damaged; `Unsupported` carries a whole
/// sentence naming what the file was recognised as and what to upload instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the file is empty; upload your résumé as a PDF, DOCX or text file")]
    Empty,
    #[error("the PDF is password-protected; upload an unprotected copy")]
    Encrypted,
    #[error("the file is corrupt and cannot be read: {0}; export it again and re-upload")]
    Corrupt(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("the document is too large to read: {0}; upload a shorter résumé")]
    TooLarge(String),
    #[error("the document is too complex to read: {0}; export it again and re-upload")]
    TooComplex(String),
    #[error(
        "the document contains no selectable text (a scanned image?); upload a PDF with a text layer, a DOCX or a text file"
    )]
    NoText,
}

impl ParseError {
    /// Short machine-readable kind (also a metric label): `empty`, `encrypted`, `corrupt`,
    /// `unsupported`, `no_text`, `document_too_large` or `document_too_complex` (the last two
    /// shared with the limits the worker enforces around the parser).
    pub fn code(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty",
            ParseError::Encrypted => "encrypted",
            ParseError::Corrupt(_) => "corrupt",
            ParseError::Unsupported(_) => "unsupported",
            ParseError::NoText => "no_text",
            ParseError::TooLarge(_) => "document_too_large",
            ParseError::TooComplex(_) => "document_too_complex",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ParseError;

    #[test]
    fn codes_are_stable() {
        let all = [
            (ParseError::Empty, "empty"),
            (ParseError::Encrypted, "encrypted"),
            (ParseError::Corrupt("x".into()), "corrupt"),
            (ParseError::Unsupported("x".into()), "unsupported"),
            (ParseError::NoText, "no_text"),
            (ParseError::TooLarge("x".into()), "document_too_large"),
            (ParseError::TooComplex("x".into()), "document_too_complex"),
        ];
        for (error, code) in all {
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn messages_tell_the_user_what_to_do() {
        assert_eq!(
            ParseError::Encrypted.to_string(),
            "the PDF is password-protected; upload an unprotected copy"
        );
        assert_eq!(
            ParseError::Corrupt("the DOCX has no document body".into()).to_string(),
            "the file is corrupt and cannot be read: the DOCX has no document body; export it again and re-upload"
        );
        let doc = "legacy Word .doc is not supported; save as DOCX or PDF";
        assert_eq!(ParseError::Unsupported(doc.into()).to_string(), doc);
        assert!(ParseError::NoText.to_string().contains("scanned"));
        assert!(
            ParseError::Empty
                .to_string()
                .starts_with("the file is empty")
        );
    }
}
