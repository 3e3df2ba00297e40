//! The evaluation set (feature `fixtures`): résumés in many layouts, fonts and date
//! styles, rendered to PDF, DOCX and text from sources in `eval/cases`, with
//! hand-written labels, and the scoring of the analysis against those labels.
//!
//! - [`cases`]: loading the sources and labels, rendering the documents;
//! - [`labels`]: the label files;
//! - `layout`, `pdf_writer` and `glyphs`: pages of placed text and the PDF fonts they are
//!   set in;
//! - [`score`]: one case's result; [`report`]: the figures over the whole set.

pub mod cases;
mod glyphs;
pub mod labels;
mod layout;
mod pdf_writer;
pub mod report;
pub mod score;
pub mod words;
