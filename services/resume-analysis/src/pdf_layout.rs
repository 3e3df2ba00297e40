//! Reading order of a PDF page from where its glyphs are drawn.
//!
//! pdf-extract decodes the glyphs (fonts, encodings, `ToUnicode`) and reports each with
//! its position; this output device lays them out instead of writing them in drawing
//! order. Glyphs become *fragments* (runs on one baseline without a gap wider than a
//! word space), fragments become lines (same baseline, left to right), and lines are
//! read top to bottom — per column when the page has two: a sidebar and a main column
//! drawn row by row on shared baselines would otherwise be joined into one line each.
//!
//! Two sides of a vertical gutter are columns only when both are left-aligned (see
//! [`gutter`]): a title with right-aligned dates, or dates in a margin column beside
//! entries, stays one line.

use pdf_extract::{MediaBox, OutputDev, OutputError, Transform};

/// Fragments each side of a gutter must have to be a column.
const MIN_FRAGMENTS: usize = 3;
/// Pages whose fragments start at more distinct places are not searched for columns
/// (a résumé page has a few dozen left edges).
const MAX_LEFT_EDGES: usize = 300;
/// Pages with more fragments are not searched for columns.
const MAX_FRAGMENTS_FOR_COLUMNS: usize = 1500;
/// The share of a column's fragments that start at its left edge.
const ALIGNED: f64 = 0.6;

#[derive(Clone, Debug)]
struct Glyph {
    x: f64,
    /// Baseline, upwards.
    y: f64,
    end: f64,
    size: f64,
    text: String,
    word_start: bool,
}

#[derive(Clone, Debug)]
struct Fragment {
    x0: f64,
    x1: f64,
    y: f64,
    size: f64,
    text: String,
}

/// Collects a page's glyphs and writes its text, in reading order, at the end of it.
pub struct LayoutOutput<'a> {
    out: &'a mut String,
    glyphs: Vec<Glyph>,
    word_start: bool,
}

impl<'a> LayoutOutput<'a> {
    pub fn new(out: &'a mut String) -> Self {
        Self {
            out,
            glyphs: Vec::new(),
            word_start: true,
        }
    }
}

impl OutputDev for LayoutOutput<'_> {
    fn begin_page(
        &mut self,
        _page: u32,
        _media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.glyphs.clear();
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        let fragments = fragments(&self.glyphs);
        write_page(self.out, &fragments);
        self.glyphs.clear();
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        text: &str,
    ) -> Result<(), OutputError> {
        let scale = (trm.m11 * trm.m22 - trm.m12 * trm.m21).abs().sqrt();
        let size = font_size * scale;
        if !(size.is_finite() && trm.m31.is_finite() && trm.m32.is_finite()) {
            return Ok(());
        }
        self.glyphs.push(Glyph {
            x: trm.m31,
            y: trm.m32,
            end: trm.m31 + width * size,
            size,
            text: text.to_owned(),
            word_start: std::mem::take(&mut self.word_start),
        });
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.word_start = true;
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

/// Runs of glyphs in drawing order on one baseline, split at gaps wider than a word space.
fn fragments(glyphs: &[Glyph]) -> Vec<Fragment> {
    let mut out: Vec<Fragment> = Vec::new();
    let mut last_end = f64::NEG_INFINITY;
    for glyph in glyphs {
        let size = glyph.size.max(1.0);
        let continues = out.last().is_some_and(|f| {
            (glyph.y - f.y).abs() < size * 0.5
                && glyph.x > last_end - size * 0.5
                && glyph.x < last_end + size * 1.5
        });
        match out.last_mut() {
            Some(fragment) if continues => {
                let gap = glyph.x - last_end;
                if glyph.word_start
                    && gap > size * 0.1
                    && !fragment.text.ends_with(' ')
                    && !glyph.text.starts_with(' ')
                {
                    fragment.text.push(' ');
                }
                fragment.text.push_str(&glyph.text);
                fragment.x1 = fragment.x1.max(glyph.end);
            }
            _ => out.push(Fragment {
                x0: glyph.x,
                x1: glyph.end,
                y: glyph.y,
                size,
                text: glyph.text.clone(),
            }),
        }
        last_end = glyph.end;
    }
    out.retain(|f| !f.text.trim().is_empty());
    out
}

/// Baselines of `side` that no fragment of `other` shares.
fn lines_alone(side: &[&Fragment], other: &[&Fragment]) -> usize {
    let mut baselines: Vec<f64> = Vec::new();
    for f in side {
        let shared = other.iter().any(|o| (o.y - f.y).abs() < f.size * 0.5);
        if !shared && !baselines.iter().any(|y| (y - f.y).abs() < f.size * 0.5) {
            baselines.push(f.y);
        }
    }
    baselines.len()
}

/// The share of `values` within 2 points of `at`.
fn share_near(values: impl Iterator<Item = f64>, at: f64) -> f64 {
    let (mut near, mut all) = (0usize, 0usize);
    for value in values {
        all += 1;
        near += usize::from((value - at).abs() <= 2.0);
    }
    if all == 0 {
        0.0
    } else {
        near as f64 / all as f64
    }
}

/// The x of a gutter between two columns, if the page has one: both sides hold at least
/// [`MIN_FRAGMENTS`] fragments, the right side is ragged on the right or has lines of its
/// own (dates set flush right beside every title are neither), most fragments of each side start at the side's left edge
/// (columns are left-aligned), and the left side's fragments do not end together at the
/// gutter (dates set flush right in a margin column, beside their entries). Right-aligned
/// dates after a title fail the second test, since they start wherever their text makes
/// them. Fragments that cross the gutter are allowed above both columns only (a name or
/// header across the page).
fn gutter(fragments: &[Fragment]) -> Option<f64> {
    // The search is quadratic: a page of more fragments than any résumé page has is read
    // as one column rather than searched.
    if fragments.len() > MAX_FRAGMENTS_FOR_COLUMNS {
        return None;
    }
    let mut candidates: Vec<f64> = fragments.iter().map(|f| f.x0 - 0.5).collect();
    candidates.sort_by(f64::total_cmp);
    candidates.dedup_by(|a, b| (*a - *b).abs() < 1.0);
    if candidates.len() > MAX_LEFT_EDGES {
        return None;
    }
    let mut best: Option<(usize, f64)> = None;
    for candidate in candidates {
        let (left, rest): (Vec<&Fragment>, Vec<&Fragment>) =
            fragments.iter().partition(|f| f.x1 <= candidate + 0.5);
        let (right, crossing): (Vec<&Fragment>, Vec<&Fragment>) =
            rest.into_iter().partition(|f| f.x0 >= candidate);
        let smaller = left.len().min(right.len());
        if smaller < MIN_FRAGMENTS || best.is_some_and(|(n, _)| n >= smaller) {
            continue;
        }
        let top_of_columns = left
            .iter()
            .chain(&right)
            .map(|f| f.y)
            .fold(f64::MIN, f64::max);
        if crossing.iter().any(|f| f.y <= top_of_columns) {
            continue;
        }
        let left_edge = left.iter().map(|f| f.x0).fold(f64::MAX, f64::min);
        let left_end = left.iter().map(|f| f.x1).fold(f64::MIN, f64::max);
        let right_end = right.iter().map(|f| f.x1).fold(f64::MIN, f64::max);
        let columns = share_near(right.iter().map(|f| f.x0), candidate + 0.5) >= ALIGNED
            && share_near(left.iter().map(|f| f.x0), left_edge) >= ALIGNED
            && share_near(left.iter().map(|f| f.x1), left_end) < ALIGNED
            && (share_near(right.iter().map(|f| f.x1), right_end) < ALIGNED
                || lines_alone(&right, &left) >= 2);
        if columns {
            best = Some((smaller, candidate));
        }
    }
    best.map(|(_, x)| x)
}

/// Writes fragments as lines, top to bottom, a blank line where the gap is wide.
fn write_lines(out: &mut String, fragments: &[&Fragment]) {
    let mut sorted: Vec<&Fragment> = fragments.to_vec();
    sorted.sort_by(|a, b| b.y.total_cmp(&a.y).then(a.x0.total_cmp(&b.x0)));
    let mut lines: Vec<Vec<&Fragment>> = Vec::new();
    for fragment in sorted {
        match lines.last_mut() {
            Some(line)
                if (line[0].y - fragment.y).abs() < line[0].size.min(fragment.size) * 0.5 =>
            {
                line.push(fragment);
            }
            _ => lines.push(vec![fragment]),
        }
    }
    let mut previous: Option<(f64, f64)> = None;
    for mut line in lines {
        line.sort_by(|a, b| a.x0.total_cmp(&b.x0));
        let (y, size) = (line[0].y, line[0].size);
        if let Some((py, psize)) = previous
            && py - y > psize.max(size) * 1.8
        {
            out.push('\n');
        }
        let texts: Vec<&str> = line.iter().map(|f| f.text.trim()).collect();
        out.push_str(&texts.join(" "));
        out.push('\n');
        previous = Some((y, size));
    }
}

fn write_page(out: &mut String, fragments: &[Fragment]) {
    if fragments.is_empty() {
        return;
    }
    match gutter(fragments) {
        Some(x) => {
            let (header, columns): (Vec<&Fragment>, Vec<&Fragment>) =
                fragments.iter().partition(|f| f.x0 < x && f.x1 > x + 0.5);
            let (left, right): (Vec<&Fragment>, Vec<&Fragment>) =
                columns.into_iter().partition(|f| f.x1 <= x + 0.5);
            write_lines(out, &header);
            write_lines(out, &left);
            out.push('\n');
            write_lines(out, &right);
        }
        None => write_lines(out, &fragments.iter().collect::<Vec<_>>()),
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(x0: f64, y: f64, text: &str) -> Fragment {
        Fragment {
            x0,
            x1: x0 + text.len() as f64 * 5.0,
            y,
            size: 10.0,
            text: text.to_owned(),
        }
    }

    fn page(fragments: &[Fragment]) -> String {
        let mut out = String::new();
        write_page(&mut out, fragments);
        out
    }

    #[test]
    fn a_sidebar_drawn_row_by_row_is_read_as_a_column() {
        let mut fragments = vec![fragment(30.0, 800.0, "Jane Doe")];
        for (i, (left, right)) in [
            ("Skills", "Experience"),
            ("Rust, Go", "Engineer, Acme"),
            ("Languages", "2019 - 2021"),
            ("English", "Built things."),
        ]
        .iter()
        .enumerate()
        {
            let y = 780.0 - 13.0 * i as f64;
            fragments.push(fragment(30.0, y, left));
            fragments.push(fragment(240.0, y, right));
        }
        fragments.push(fragment(240.0, 700.0, "Education"));
        fragments.push(fragment(30.0, 690.0, "Hobbies"));
        fragments.push(fragment(240.0, 680.0, "BSc"));
        fragments.push(fragment(30.0, 670.0, "Chess"));
        fragments.push(fragment(240.0, 660.0, "2014"));
        fragments.push(fragment(30.0, 650.0, "Reading"));
        let text = page(&fragments);
        assert!(
            text.starts_with("Jane Doe\n\nSkills\nRust, Go\nLanguages\nEnglish\n"),
            "{text}"
        );
        assert!(
            text.find("Reading").unwrap() < text.find("Experience").unwrap(),
            "{text}"
        );
        assert!(
            text.contains("\nExperience\nEngineer, Acme\n2019 - 2021\n"),
            "{text}"
        );
    }

    #[test]
    fn crowded_pages_are_one_column() {
        let fragments: Vec<Fragment> = (0..MAX_FRAGMENTS_FOR_COLUMNS + 1)
            .map(|i| fragment(if i % 2 == 0 { 30.0 } else { 240.0 }, i as f64, "x"))
            .collect();
        assert!(gutter(&fragments).is_none());
    }

    #[test]
    fn right_aligned_dates_stay_on_their_line() {
        let fragments: Vec<Fragment> = (0..6)
            .flat_map(|i| {
                let y = 800.0 - 13.0 * f64::from(i);
                let mut line = vec![fragment(50.0, y, "Engineer, Acme")];
                if i % 2 == 0 {
                    line.push(fragment(480.0, y, "2019 - 2021"));
                }
                line
            })
            .collect();
        assert!(gutter(&fragments).is_none());
        let same_length: Vec<Fragment> = (0..6)
            .flat_map(|i| {
                let y = 800.0 - 13.0 * f64::from(i);
                let mut line = vec![fragment(
                    50.0,
                    y,
                    if i % 2 == 0 {
                        "Engineer, Acme"
                    } else {
                        "Built it"
                    },
                )];
                if i % 2 == 0 {
                    line.push(fragment(480.0, y, "2019-01 - 2021-03"));
                }
                line
            })
            .collect();
        assert!(gutter(&same_length).is_none());
        assert!(page(&fragments).starts_with("Engineer, Acme 2019 - 2021\nEngineer, Acme\n"));
    }
}
