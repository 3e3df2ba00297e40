//! Résumé analysis: read an uploaded document, extract what it says, and analyse it.
//!
//! The pipeline has three steps, each a plain function without I/O:
//! [`parse`] (bytes → [`Document`]), [`extract()`] (text → [`Profile`]) and
//! [`analyze()`] (profile and optional [`Requirements`] → [`Analysis`]).
//!
//! # Modules
//!
//! - [`detect`]: what a file is, decided from its bytes ([`detect_format`]); the MIME
//!   type and file name are only hints.
//! - [`document`]: [`parse`] a PDF, DOCX, text or Markdown file into plain text, through
//!   the private readers `pdf` (pdf-extract, encryption and panic guarded), `docx`
//!   (zip + quick-xml, size capped) and `text` (UTF-8/UTF-16, BOM stripped).
//! - [`budget`]: decode budgets for PDFs (inflated size per stream and per document,
//!   page count), checked before any text is extracted.
//! - [`error`]: [`ParseError`], why a document cannot be read, in words for the person
//!   who uploaded it, with a stable [`ParseError::code`].
//! - [`mod@extract`]: [`extract()`] a [`Profile`] from text, one submodule per concept:
//!   - [`extract::contact`]: name, email, phone and links;
//!   - [`extract::sections`]: summary, experience, education and skills by headings;
//!   - [`extract::dates`]: date ranges ("Jan 2019 – Present") and years of experience;
//!   - [`extract::skills`]: taxonomy skills found in text.
//! - [`taxonomy`]: the bundled skill taxonomy (`data/skills.txt`: over 300 skills with
//!   categories and aliases).
//! - [`mod@analyze`]: [`analyze()`] seniority, skills by category and a match score
//!   against requirements.
//! - `fixtures` (feature `fixtures`): real PDF and DOCX files and a sample résumé, for
//!   tests and benchmarks.
//! - `evaluation` (feature `fixtures`): the evaluation set (`eval/cases`), its labels and
//!   the scoring behind `cargo run -p resume-analysis --features fixtures --example evaluate`.
//!
//! # Example
//!
//! ```
//! use resume_analysis::{Format, Requirements, Seniority, YearMonth, analyze, extract, parse};
//!
//! let bytes = "Jane Doe\njane@example.com\nExperience\nAcme, Jan 2019 – Present\n\
//!              Skills\nRust, Go, k8s, Postgres";
//! let document = parse(bytes.as_bytes(), Some("text/plain"), Some("cv.txt"))?;
//! assert_eq!(document.format, Format::Text);
//!
//! let profile = extract(&document.text, YearMonth::new(2025, 1));
//! assert_eq!(profile.name.as_deref(), Some("Jane Doe"));
//! assert_eq!(profile.years_of_experience, 6.0);
//!
//! let requirements = Requirements {
//!     required_skills: vec!["golang".into(), "Kubernetes".into(), "Java".into()],
//!     job_description: None,
//! };
//! let analysis = analyze(&profile, Some(&requirements));
//! assert_eq!(analysis.seniority, Seniority::Senior);
//! let score = analysis.r#match.expect("requirements were given");
//! assert_eq!((score.score, score.missing), (67, vec!["Java".to_owned()]));
//! # Ok::<(), resume_analysis::ParseError>(())
//! ```

pub mod analyze;
pub mod budget;
pub mod detect;
pub mod document;
mod docx;
pub mod error;
pub mod extract;
mod pdf;
mod pdf_forms;
mod pdf_layout;
mod pdf_ops;
pub mod taxonomy;
mod text;

#[cfg(any(test, feature = "fixtures"))]
pub mod evaluation;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;

pub use analyze::{Analysis, MatchScore, Requirements, Seniority, analyze};
pub use detect::{Format, detect_format};
pub use document::{Document, parse};
pub use error::ParseError;
pub use extract::contact::Links;
pub use extract::dates::{DateRange, YearMonth};
pub use extract::sections::Sections;
pub use extract::skills::SkillHit;
pub use extract::{Profile, extract};
