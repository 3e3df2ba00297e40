//! Résumé analysis: read a document, extract what it says, and analyse it.
//!
//! - [`format`]: what a file is, decided from its bytes (names and MIME types are hints).
//! - [`document`]: [`parse`] a PDF, DOCX, text or Markdown file into plain text.
//!   The readers: `pdf`, `docx`, `text`.
//! - [`error`]: why a document cannot be read, in words an end user understands.
//! - [`contact`]: name, email, phone and links.
//! - [`sections`]: summary, experience, education and skills sections by their headings.
//! - [`dates`]: date ranges such as "Jan 2019 – Present", and years of experience.
//! - [`taxonomy`]: the bundled skill taxonomy (over 300 skills, aliases, categories).
//! - [`skills`]: finding taxonomy skills in text.
//! - [`profile`]: [`extract`] everything above into a [`Profile`].
//! - [`analyze`]: seniority, skills by category and a match score against requirements.
//! - `fixtures` (feature `fixtures`): generators of real PDF and DOCX files for tests.

pub mod analyze;
pub mod contact;
pub mod dates;
pub mod document;
mod docx;
pub mod error;
pub mod format;
mod pdf;
pub mod profile;
pub mod sections;
pub mod skills;
pub mod taxonomy;
mod text;

#[cfg(feature = "fixtures")]
pub mod fixtures;

pub use analyze::{Analysis, MatchScore, Requirements, Seniority, analyze};
pub use dates::YearMonth;
pub use document::{Document, parse};
pub use error::ParseError;
pub use format::{Format, detect_format};
pub use profile::{Profile, extract};
