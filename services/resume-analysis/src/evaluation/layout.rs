//! Page layouts of the evaluation résumés: where each line of a source goes.
//!
//! A source line may hold a tab: the part before it and the part after it share a
//! baseline (a title on the left and its dates on the right, or dates in a margin column
//! before the entry, as LaTeX CV classes set them).

/// A piece of text at a place on a page (points from the bottom left, A4).
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub x: f32,
    pub y: f32,
    pub size: f32,
    pub text: String,
}

/// How the lines of a source are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One column; the part after a tab is right-aligned on the same line.
    Single,
    /// Dates in a margin column on the left, the entry beside them.
    Dates,
    /// A narrow sidebar (the lines before the column break) and a main column, the
    /// sidebar drawn first.
    Sidebar,
    /// The same two columns drawn row by row, left then right on each baseline, as
    /// table-based layouts are drawn.
    SidebarRows,
}

const TOP: f32 = 800.0;
const BOTTOM: f32 = 50.0;
const LEADING: f32 = 13.0;
const SIZE: f32 = 10.0;
const NAME_SIZE: f32 = 18.0;

/// The width of `text` at `size`, as a body font's average glyph would set it.
pub fn width(text: &str, size: f32) -> f32 {
    text.chars().count() as f32 * size * 0.5
}

/// A column that fills pages from the top, starting another page when one is full.
struct Column {
    pages: Vec<Vec<Placed>>,
    page: usize,
    y: f32,
}

impl Column {
    fn new() -> Self {
        Self {
            pages: vec![Vec::new()],
            page: 0,
            y: TOP,
        }
    }

    fn advance(&mut self, by: f32) {
        self.y -= by;
        if self.y < BOTTOM {
            self.page += 1;
            self.y = TOP;
            if self.pages.len() <= self.page {
                self.pages.push(Vec::new());
            }
        }
    }

    fn place(&mut self, x: f32, size: f32, text: &str) {
        if !text.trim().is_empty() {
            self.pages[self.page].push(Placed {
                x,
                y: self.y,
                size,
                text: text.trim().to_owned(),
            });
        }
    }
}

/// Lines of one column, from `left` to `right`.
fn fill(
    column: &mut Column,
    lines: &[String],
    (left, right): (f32, f32),
    dates_margin: bool,
    name_first: bool,
) {
    for (i, line) in lines.iter().enumerate() {
        let size = if i == 0 && name_first {
            NAME_SIZE
        } else {
            SIZE
        };
        if line.trim().is_empty() {
            column.advance(LEADING / 2.0);
            continue;
        }
        match line.split_once('\t') {
            Some((before, after)) if dates_margin => {
                column.place(left + 90.0 - width(before.trim(), size), size, before);
                column.place(left + 100.0, size, after);
            }
            Some((before, after)) => {
                column.place(left, size, before);
                column.place(right - width(after.trim(), size), size, after);
            }
            None if dates_margin && size == SIZE => column.place(left + 100.0, size, line),
            None => column.place(left, size, line),
        }
        column.advance(if size == NAME_SIZE { 24.0 } else { LEADING });
    }
}

/// The pieces of each page; `break_at` splits the sidebar from the main column.
pub fn lay_out(lines: &[String], layout: Layout, break_at: Option<usize>) -> Vec<Vec<Placed>> {
    match layout {
        Layout::Single | Layout::Dates => {
            let mut column = Column::new();
            fill(
                &mut column,
                lines,
                (50.0, 545.0),
                layout == Layout::Dates,
                true,
            );
            column.pages
        }
        Layout::Sidebar | Layout::SidebarRows => {
            let split = break_at.unwrap_or(0).min(lines.len());
            let mut sidebar = Column::new();
            fill(&mut sidebar, &lines[..split], (30.0, 200.0), false, true);
            let mut main = Column::new();
            fill(&mut main, &lines[split..], (240.0, 565.0), false, false);
            let pages = sidebar.pages.len().max(main.pages.len());
            let mut out = vec![Vec::new(); pages];
            for (i, page) in sidebar.pages.into_iter().enumerate() {
                out[i].extend(page);
            }
            for (i, page) in main.pages.into_iter().enumerate() {
                out[i].extend(page);
            }
            if layout == Layout::SidebarRows {
                for page in &mut out {
                    page.sort_by(|a, b| b.y.total_cmp(&a.y).then(a.x.total_cmp(&b.x)));
                }
            }
            out
        }
    }
}
