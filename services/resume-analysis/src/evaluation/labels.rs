//! Hand-written labels of an evaluation résumé: one `key: value` per line.
//!
//! ```text
//! name: Jane Doe
//! email: jane@example.com
//! phone: +15551234567            (digits as the extractor normalises them; omit if none)
//! link: https://github.com/jane  (one line per link)
//! position: Title | Company | 2019-01 | present   (start/end: YYYY-MM, YYYY or present)
//! education: Degree | School | 2014
//! skills: Rust, Go, PostgreSQL   (taxonomy names)
//! seniority: senior
//! ```

use crate::{Seniority, YearMonth};

/// A labelled date: a month, or a year when the document gives only the year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelDate {
    Month(YearMonth),
    Year(i32),
}

impl LabelDate {
    /// True when `found` is this date at the precision the document gives.
    pub fn matches(self, found: YearMonth) -> bool {
        match self {
            Self::Month(month) => month == found,
            Self::Year(year) => year == found.year,
        }
    }

    /// The first month of the date (January for a year).
    pub fn first_month(self) -> YearMonth {
        match self {
            Self::Month(month) => month,
            Self::Year(year) => YearMonth::new(year, 1),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelPosition {
    pub title: String,
    pub company: String,
    pub start: LabelDate,
    /// `None`: still held.
    pub end: Option<LabelDate>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelEducation {
    pub degree: String,
    pub school: String,
    pub year: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub links: Vec<String>,
    pub positions: Vec<LabelPosition>,
    pub education: Vec<LabelEducation>,
    pub skills: Vec<String>,
    pub seniority: Option<Seniority>,
}

fn date(text: &str) -> Result<LabelDate, String> {
    let text = text.trim();
    let number = |s: &str| s.parse::<i32>().map_err(|_| format!("bad date {text:?}"));
    match text.split_once('-') {
        Some((year, month)) => {
            let month = u32::try_from(number(month)?).map_err(|_| format!("bad month {text:?}"))?;
            if !(1..=12).contains(&month) {
                return Err(format!("bad month {text:?}"));
            }
            Ok(LabelDate::Month(YearMonth::new(number(year)?, month)))
        }
        None => Ok(LabelDate::Year(number(text)?)),
    }
}

fn seniority(text: &str) -> Result<Seniority, String> {
    Ok(match text.trim() {
        "intern" => Seniority::Intern,
        "junior" => Seniority::Junior,
        "mid" => Seniority::Mid,
        "senior" => Seniority::Senior,
        "lead" => Seniority::Lead,
        "principal" => Seniority::Principal,
        other => return Err(format!("unknown seniority {other:?}")),
    })
}

/// Parses a label file; every line is `key: value`, `#` starts a comment line.
pub fn parse(text: &str) -> Result<Labels, String> {
    let mut labels = Labels::default();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", number + 1);
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| at(format!("no `key:` in {line:?}")))?;
        let value = value.trim();
        let fields: Vec<&str> = value.split('|').map(str::trim).collect();
        match key.trim() {
            "name" => labels.name = Some(value.to_owned()),
            "email" => labels.email = Some(value.to_owned()),
            "phone" => labels.phone = Some(value.to_owned()),
            "link" => labels.links.push(value.to_owned()),
            "skills" => labels.skills.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            ),
            "seniority" => labels.seniority = Some(seniority(value).map_err(at)?),
            "position" => {
                let [title, company, start, end] = fields[..] else {
                    return Err(at("a position has 4 fields".into()));
                };
                labels.positions.push(LabelPosition {
                    title: title.to_owned(),
                    company: company.to_owned(),
                    start: date(start).map_err(at)?,
                    end: if end == "present" {
                        None
                    } else {
                        Some(date(end).map_err(at)?)
                    },
                });
            }
            "education" => {
                let [degree, school, year] = fields[..] else {
                    return Err(at("an education has 3 fields".into()));
                };
                labels.education.push(LabelEducation {
                    degree: degree.to_owned(),
                    school: school.to_owned(),
                    year: year.parse().ok(),
                });
            }
            other => return Err(at(format!("unknown key {other:?}"))),
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let labels = parse(
            "# comment\nname: Jane Doe\nemail: j@x.io\nphone: +15551234567\nlink: https://github.com/j\n\
             position: Engineer | Acme | 2019-03 | present\nposition: Intern | Beta | 2015 | 2016\n\
             education: BSc | State University | 2014\nskills: Rust, Go\nseniority: senior",
        )
        .unwrap();
        assert_eq!(labels.name.as_deref(), Some("Jane Doe"));
        assert_eq!(labels.positions.len(), 2);
        assert_eq!(labels.positions[0].end, None);
        assert_eq!(labels.positions[1].start, LabelDate::Year(2015));
        assert_eq!(labels.skills, ["Rust", "Go"]);
        assert_eq!(labels.seniority, Some(Seniority::Senior));
        assert!(parse("position: a | b").is_err());
        assert!(parse("colour: blue").is_err());
    }
}
