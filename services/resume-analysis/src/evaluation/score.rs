//! Scoring the analysis of one evaluation résumé against its labels.

use crate::{Analysis, Profile, Seniority, YearMonth, analyze, extract, parse};

use super::cases::{Case, Render, render};
use super::labels::{LabelDate, LabelPosition, Labels};

/// The month "present" means in the evaluation, so that results do not change with time.
pub const TODAY: YearMonth = YearMonth {
    year: 2026,
    month: 11,
};

/// Counts for precision and recall.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Found and labelled.
    pub right: usize,
    /// Everything found.
    pub found: usize,
    /// Everything labelled.
    pub expected: usize,
}

impl Tally {
    pub fn precision(self) -> f64 {
        if self.found == 0 {
            1.0
        } else {
            self.right as f64 / self.found as f64
        }
    }

    pub fn recall(self) -> f64 {
        if self.expected == 0 {
            1.0
        } else {
            self.right as f64 / self.expected as f64
        }
    }

    pub fn add(&mut self, other: Self) {
        self.right += other.right;
        self.found += other.found;
        self.expected += other.expected;
    }
}

/// How the analysis of one case compares with its labels.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub id: String,
    pub render: Render,
    /// Why the document could not be read, if it could not.
    pub error: Option<String>,
    pub name: bool,
    pub email: bool,
    pub phone: bool,
    pub positions: Tally,
    /// Positions found whose text holds the labelled title.
    pub titled: usize,
    pub years_expected: f32,
    pub years_found: f32,
    pub skills: Tally,
    pub links: Tally,
    pub education: Tally,
    pub seniority: Option<Seniority>,
    pub seniority_labelled: bool,
    pub seniority_consistent: bool,
    pub misses: Vec<String>,
}

impl CaseResult {
    pub fn years_right(&self) -> bool {
        (self.years_found - self.years_expected).abs() <= 1.0
    }
}

/// Months from `start` to `end` (or [`TODAY`]) of every labelled position, overlaps once.
fn labelled_years(positions: &[LabelPosition]) -> f32 {
    let index = |m: YearMonth| i64::from(m.year) * 12 + i64::from(m.month) - 1;
    let mut months = std::collections::BTreeSet::new();
    for p in positions {
        let end = p.end.map_or(TODAY, LabelDate::first_month);
        months.extend(index(p.start.first_month())..index(end).min(index(TODAY)));
    }
    (months.len() as f32 / 12.0 * 10.0).round() / 10.0
}

fn show(date: Option<YearMonth>) -> String {
    date.map_or_else(
        || "present".to_owned(),
        |d| format!("{}-{:02}", d.year, d.month),
    )
}

/// Positions found with the right start and end months; `titled` counts those whose
/// text (their line, or the line before a range alone on its line) holds the title.
fn compare_positions(
    labels: &Labels,
    profile: &Profile,
    titled: &mut usize,
    misses: &mut Vec<String>,
) -> Tally {
    let mut unmatched: Vec<usize> = (0..profile.positions.len()).collect();
    let mut right = 0;
    for label in &labels.positions {
        let hit = unmatched.iter().position(|&i| {
            let found = &profile.positions[i];
            label.start.matches(found.start)
                && match (label.end, found.end) {
                    (None, None) => true,
                    (Some(want), Some(got)) => want.matches(got),
                    _ => false,
                }
        });
        match hit {
            Some(at) => {
                let found = &profile.positions[unmatched.remove(at)];
                if found
                    .text
                    .to_lowercase()
                    .contains(&label.title.to_lowercase())
                {
                    *titled += 1;
                } else {
                    misses.push(format!(
                        "position title not in its text: {} in {:?}",
                        label.title, found.text
                    ));
                }
                right += 1;
            }
            None => misses.push(format!(
                "position missed: {} | {} | {:?} – {:?}",
                label.title, label.company, label.start, label.end
            )),
        }
    }
    for i in unmatched {
        let p = &profile.positions[i];
        misses.push(format!(
            "position extra: {} – {} in {:?}",
            show(Some(p.start)),
            show(p.end),
            p.text
        ));
    }
    Tally {
        right,
        found: profile.positions.len(),
        expected: labels.positions.len(),
    }
}

/// Compares two lists of names, case-insensitively.
fn compare_sets(
    kind: &str,
    expected: &[String],
    found: &[String],
    misses: &mut Vec<String>,
) -> Tally {
    let has = |list: &[String], x: &str| list.iter().any(|y| y.eq_ignore_ascii_case(x));
    let mut tally = Tally {
        right: 0,
        found: found.len(),
        expected: expected.len(),
    };
    for x in expected {
        if has(found, x) {
            tally.right += 1;
        } else {
            misses.push(format!("{kind} missed: {x}"));
        }
    }
    for x in found.iter().filter(|x| !has(expected, x)) {
        misses.push(format!("{kind} extra: {x}"));
    }
    tally
}

fn plain_link(url: &str) -> String {
    let url = url.to_ascii_lowercase();
    let url = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    url.trim_start_matches("www.")
        .trim_end_matches('/')
        .to_owned()
}

/// False for a seniority beyond what the years found support: more than one level above
/// the years' own level (which stops at senior: past five years, titles decide).
fn consistent(seniority: Seniority, years: f32) -> bool {
    let by_years = match years {
        y if y < 0.5 => Seniority::Intern,
        y if y < 2.0 => Seniority::Junior,
        y if y < 5.0 => Seniority::Mid,
        _ => Seniority::Senior,
    };
    by_years == Seniority::Senior || (seniority as u8) <= (by_years as u8) + 1
}

fn check<T: PartialEq + std::fmt::Debug>(
    field: &str,
    want: Option<T>,
    got: Option<T>,
    misses: &mut Vec<String>,
) -> bool {
    let right = want == got;
    if !right {
        misses.push(format!("{field}: expected {want:?}, found {got:?}"));
    }
    right
}

/// Renders, reads, extracts and analyses `case`, and compares the result with its labels.
pub fn evaluate(case: &Case) -> CaseResult {
    let labels = &case.labels;
    let text = render(case).and_then(|doc| {
        parse(&doc.bytes, None, Some(&doc.file_name))
            .map(|d| d.text)
            .map_err(|e| e.to_string())
    });
    let (text, error) = match text {
        Ok(text) => (text, None),
        Err(error) => (String::new(), Some(error)),
    };
    let profile = extract(&text, TODAY);
    let analysis: Analysis = analyze(&profile, None);
    let mut misses = Vec::new();
    let name = check(
        "name",
        labels.name.as_deref(),
        profile.name.as_deref(),
        &mut misses,
    );
    let email = check(
        "email",
        labels.email.as_deref(),
        profile.email.as_deref(),
        &mut misses,
    );
    let phone = check(
        "phone",
        labels.phone.as_deref(),
        profile.phone.as_deref(),
        &mut misses,
    );
    let mut titled = 0;
    let positions = compare_positions(labels, &profile, &mut titled, &mut misses);
    let found_skills: Vec<String> = profile.skills.iter().map(|s| s.name.clone()).collect();
    let skills = compare_sets("skill", &labels.skills, &found_skills, &mut misses);
    let links = &profile.links;
    let found_links: Vec<String> = links
        .linkedin
        .iter()
        .chain(&links.github)
        .chain(&links.other)
        .map(|l| plain_link(l))
        .collect();
    let expected_links: Vec<String> = labels.links.iter().map(|l| plain_link(l)).collect();
    let links = compare_sets("link", &expected_links, &found_links, &mut misses);
    let education_text = profile
        .sections
        .education
        .as_deref()
        .unwrap_or(&text)
        .to_lowercase()
        .replace('\u{2019}', "'");
    let mut education = Tally {
        expected: labels.education.len(),
        found: labels.education.len(),
        right: 0,
    };
    for entry in &labels.education {
        if education_text.contains(&entry.school.to_lowercase()) {
            education.right += 1;
        } else {
            misses.push(format!("education missed: {}", entry.school));
        }
    }
    let years_expected = labelled_years(&labels.positions);
    let years_found = profile.years_of_experience;
    if (years_found - years_expected).abs() > 1.0 {
        misses.push(format!(
            "years: expected {years_expected}, found {years_found}"
        ));
    }
    let seniority_labelled = labels.seniority.is_none_or(|s| s == analysis.seniority);
    if !seniority_labelled {
        misses.push(format!(
            "seniority: labelled {:?}, found {:?}",
            labels.seniority, analysis.seniority
        ));
    }
    let seniority_consistent = consistent(analysis.seniority, years_found);
    if !seniority_consistent {
        misses.push(format!(
            "seniority {:?} is more than a step above {years_found} years",
            analysis.seniority
        ));
    }
    CaseResult {
        id: case.id.clone(),
        render: case.render,
        error,
        name,
        email,
        phone,
        positions,
        titled,
        years_expected,
        years_found,
        skills,
        links,
        education,
        seniority: Some(analysis.seniority),
        seniority_labelled,
        seniority_consistent,
        misses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::labels::parse as parse_labels;

    #[test]
    fn labelled_years_count_overlaps_once() {
        let labels = parse_labels(
            "position: A | X | 2018-01 | 2020-01\nposition: B | Y | 2019-01 | 2021-01\nposition: C | Z | 2026 | present",
        )
        .unwrap();
        assert_eq!(labelled_years(&labels.positions), 3.8);
    }

    #[test]
    fn tallies_and_links() {
        let t = Tally {
            right: 8,
            found: 10,
            expected: 16,
        };
        assert_eq!((t.precision(), t.recall()), (0.8, 0.5));
        assert_eq!(
            plain_link("https://www.GitHub.com/jane/"),
            "github.com/jane"
        );
        assert!(consistent(Seniority::Senior, 3.0));
        assert!(!consistent(Seniority::Lead, 0.0));
        assert!(!consistent(Seniority::Lead, 3.0));
        assert!(consistent(Seniority::Principal, 9.0));
    }
}
