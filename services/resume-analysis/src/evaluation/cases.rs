//! The evaluation résumés: sources written for the set (`eval/cases/*.cv`) with their
//! hand-written labels (`*.labels`), and the documents rendered from them.
//!
//! A source starts with `%%` header lines: `%% render: <kind>` (how the document is
//! made, see [`Render`]) and `%% origin: <text>` (what it imitates). `%% column` splits a
//! sidebar from the main column. Every other line is a line of the résumé; a tab puts
//! the rest of the line on the same baseline (right-aligned, or beside a date column).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::labels::{self, Labels};
use super::layout::{Layout, lay_out};
use super::pdf_writer::{self, Fonts};
use crate::fixtures::{docx_from_body, paragraphs_xml, xml_escape};

/// How a source becomes a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Render {
    /// The lines as a UTF-8 text file.
    Text,
    /// The lines as a Markdown file (the source is Markdown).
    Markdown,
    /// A DOCX with a paragraph per line.
    Docx,
    /// A DOCX whose paragraphs are split into several runs, as word processors save them.
    DocxRuns,
    /// A DOCX laid out as a two-cell table: sidebar and main column.
    DocxTable,
    /// A one-column PDF in Helvetica (a word processor's export).
    Pdf,
    /// A PDF with a date column whose dashes read as soft hyphens (a LaTeX CV class), in a
    /// `Type0` font whose `ToUnicode` map says so.
    PdfDateColumn,
    /// A one-column PDF in a subset font without `ToUnicode`, words placed by `TJ`.
    PdfTex,
    /// A date-column PDF in a subset font without `ToUnicode`.
    PdfTexDateColumn,
    /// A two-column PDF (sidebar first) in a `Type0` font with `ToUnicode` (a browser).
    PdfTwoColumn,
    /// A one-column PDF in a `Type0` font with `ToUnicode` (a browser).
    PdfCid,
    /// A two-column PDF drawn row by row across both columns, in Helvetica (a
    /// table-based layout exported by a word processor).
    PdfRows,
    /// A one-column PDF whose text is drawn by form XObjects, placed by the page's `cm`
    /// or the form's `/Matrix` (a design program's export).
    PdfForms,
    /// A PDF typeset by groff's PDF driver (Debian `groff`).
    Groff,
    /// A PDF typeset by groff as PostScript and converted by Ghostscript's `ps2pdf`.
    GroffPs2pdf,
}

impl Render {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "txt" => Self::Text,
            "md" => Self::Markdown,
            "docx" => Self::Docx,
            "docx-runs" => Self::DocxRuns,
            "docx-table" => Self::DocxTable,
            "pdf" => Self::Pdf,
            "pdf-datecol" => Self::PdfDateColumn,
            "pdf-tex" => Self::PdfTex,
            "pdf-tex-datecol" => Self::PdfTexDateColumn,
            "pdf-2col" => Self::PdfTwoColumn,
            "pdf-cid" => Self::PdfCid,
            "pdf-rows" => Self::PdfRows,
            "pdf-forms" => Self::PdfForms,
            "groff" => Self::Groff,
            "groff-ps2pdf" => Self::GroffPs2pdf,
            other => return Err(format!("unknown render {other:?}")),
        })
    }

    /// The kind's name in sources and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "txt",
            Self::Markdown => "md",
            Self::Docx => "docx",
            Self::DocxRuns => "docx-runs",
            Self::DocxTable => "docx-table",
            Self::Pdf => "pdf",
            Self::PdfDateColumn => "pdf-datecol",
            Self::PdfTex => "pdf-tex",
            Self::PdfTexDateColumn => "pdf-tex-datecol",
            Self::PdfTwoColumn => "pdf-2col",
            Self::PdfCid => "pdf-cid",
            Self::PdfRows => "pdf-rows",
            Self::PdfForms => "pdf-forms",
            Self::Groff => "groff",
            Self::GroffPs2pdf => "groff-ps2pdf",
        }
    }

    pub fn is_pdf(self) -> bool {
        self >= Self::Pdf
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Text => "txt",
            Self::Markdown => "md",
            Self::Docx | Self::DocxRuns | Self::DocxTable => "docx",
            _ => "pdf",
        }
    }
}

/// One résumé of the set.
#[derive(Clone, Debug)]
pub struct Case {
    pub id: String,
    pub render: Render,
    pub origin: String,
    pub lines: Vec<String>,
    /// Index of the first main-column line, when the source has a sidebar.
    pub column_break: Option<usize>,
    pub labels: Labels,
}

/// A rendered document.
pub struct Rendered {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// The directory of the set in this crate.
pub fn default_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/cases")
}

fn load(source: &str, labels_text: &str, id: &str) -> Result<Case, String> {
    let mut render = None;
    let mut origin = String::new();
    let mut lines = Vec::new();
    let mut column_break = None;
    for line in source.lines() {
        if let Some(header) = line.strip_prefix("%%") {
            let header = header.trim();
            if header == "column" {
                column_break = Some(lines.len());
            } else if let Some(kind) = header.strip_prefix("render:") {
                render = Some(Render::parse(kind.trim())?);
            } else if let Some(text) = header.strip_prefix("origin:") {
                origin = text.trim().to_owned();
            } else {
                return Err(format!("unknown header {line:?}"));
            }
        } else {
            lines.push(line.to_owned());
        }
    }
    Ok(Case {
        id: id.to_owned(),
        render: render.ok_or("no `%% render:` line")?,
        origin,
        lines,
        column_break,
        labels: labels::parse(labels_text)?,
    })
}

/// Every case in `dir`, sorted by file name.
pub fn load_all(dir: &Path) -> Result<Vec<Case>, String> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "cv"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let id = path.file_stem().unwrap_or_default().to_string_lossy();
            let read =
                |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
            let source = read(path)?;
            let labels = read(&path.with_extension("labels"))?;
            load(&source, &labels, &id).map_err(|e| format!("{id}: {e}"))
        })
        .collect()
}

/// Runs `program` with `input` on its standard input and returns its standard output.
fn pipe(program: &str, args: &[&str], input: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program} cannot run ({e}); scripts/install-deps.sh installs it"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = writer.join();
    if !output.status.success() {
        return Err(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(output.stdout)
}

/// groff input: no filling, a right-aligned tab stop, the first line larger.
fn groff_source(lines: &[String]) -> String {
    let mut out = String::from(".pl 29.7c\n.po 2c\n.ll 17c\n.nf\n.ta 17cR\n.ps 18\n");
    for (i, line) in lines.iter().enumerate() {
        let escaped = line.replace('\\', "\\e");
        if escaped.starts_with(['.', '\'']) {
            out.push_str("\\&");
        }
        out.push_str(&escaped);
        out.push('\n');
        if i == 0 {
            out.push_str(".ps 10\n.vs 12\n");
        }
    }
    out
}

/// The document of `case`, as its source says it is made.
pub fn render(case: &Case) -> Result<Rendered, String> {
    let pdf = |layout: Layout, fonts: Fonts| {
        let in_forms = case.render == Render::PdfForms;
        pdf_writer::write(
            &lay_out(&case.lines, layout, case.column_break),
            fonts,
            in_forms,
        )
    };
    let bytes = match case.render {
        Render::Text | Render::Markdown => case.lines.join("\n").into_bytes(),
        Render::Docx => docx_from_body(&paragraphs_xml(&case.lines)),
        Render::DocxRuns => docx_from_body(&split_runs(&case.lines)),
        Render::DocxTable => {
            let split = case.column_break.unwrap_or(0);
            let cell = |lines: &[String]| format!("<w:tc>{}</w:tc>", paragraphs_xml(lines));
            docx_from_body(&format!(
                "<w:tbl><w:tr>{}{}</w:tr></w:tbl>",
                cell(&case.lines[..split]),
                cell(&case.lines[split..])
            ))
        }
        Render::Pdf => pdf(Layout::Single, Fonts::Standard),
        Render::PdfDateColumn => pdf(
            Layout::Dates,
            Fonts::CidToUnicode {
                dash_as_soft_hyphen: true,
            },
        ),
        Render::PdfTex => pdf(Layout::Single, Fonts::TexSubset),
        Render::PdfTexDateColumn => pdf(Layout::Dates, Fonts::TexSubset),
        Render::PdfTwoColumn => pdf(
            Layout::Sidebar,
            Fonts::CidToUnicode {
                dash_as_soft_hyphen: false,
            },
        ),
        Render::PdfCid => pdf(
            Layout::Single,
            Fonts::CidToUnicode {
                dash_as_soft_hyphen: false,
            },
        ),
        Render::PdfRows => pdf(Layout::SidebarRows, Fonts::Standard),
        Render::PdfForms => pdf(Layout::Single, Fonts::Standard),
        Render::Groff => pipe(
            "groff",
            &["-Kutf8", "-Tpdf", "-P-pa4"],
            groff_source(&case.lines).as_bytes(),
        )?,
        Render::GroffPs2pdf => {
            let ps = pipe(
                "groff",
                &["-Kutf8", "-Tps", "-P-pa4"],
                groff_source(&case.lines).as_bytes(),
            )?;
            pipe("ps2pdf", &["-sPAPERSIZE=a4", "-", "-"], &ps)?
        }
    };
    Ok(Rendered {
        file_name: format!("{}.{}", case.id, case.render.extension()),
        bytes,
    })
}

/// Paragraphs whose text is cut into runs of at most five characters.
fn split_runs(lines: &[String]) -> String {
    let mut body = String::new();
    for line in lines {
        body.push_str("<w:p>");
        let chars: Vec<char> = line.chars().collect();
        for chunk in chars.chunks(5) {
            let text: String = chunk.iter().collect();
            for (i, part) in text.split('\t').enumerate() {
                if i > 0 {
                    body.push_str("<w:r><w:tab/></w:r>");
                }
                body.push_str(&format!(
                    "<w:r><w:rPr><w:lang w:val=\"en-GB\"/></w:rPr><w:t xml:space=\"preserve\">{}</w:t></w:r>",
                    xml_escape(part)
                ));
            }
        }
        body.push_str("</w:p>");
    }
    body
}
