//! Why a document cannot be read. Messages are written for the person who uploaded it.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the file is empty")]
    Empty,
    #[error("the PDF is password-protected; upload an unprotected copy")]
    Encrypted,
    #[error("the file is corrupt and cannot be read: {0}")]
    Corrupt(String),
    #[error("this file type is not supported: {0}; upload a PDF, DOCX or text file")]
    Unsupported(String),
    #[error("the document contains no text (a scanned image?); upload a PDF with selectable text")]
    NoText,
}

impl ParseError {
    /// Short machine-readable kind (also a metric label).
    pub fn code(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty",
            ParseError::Encrypted => "encrypted",
            ParseError::Corrupt(_) => "corrupt",
            ParseError::Unsupported(_) => "unsupported",
            ParseError::NoText => "no_text",
        }
    }
}
