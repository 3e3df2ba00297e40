//! Date ranges ("Jan 2019 – Present", "2015-2018", "03/2017 - 11/2020", "May 2020 to
//! Current") and the total experience they cover, with overlaps counted once.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// A month of a year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct YearMonth {
    pub year: i32,
    /// 1–12.
    pub month: u32,
}

impl YearMonth {
    pub fn new(year: i32, month: u32) -> Self {
        Self {
            year,
            month: month.clamp(1, 12),
        }
    }

    /// Months since year 0, for arithmetic.
    fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }
}

/// One range found in the text; `end: None` means "present".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateRange {
    pub start: YearMonth,
    pub end: Option<YearMonth>,
    /// The line the range was found on.
    pub text: String,
}

const DATE: &str = r"(?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+\d{4}|\d{1,2}/\d{4}|\d{4}-\d{1,2}(?:\b|$)|\d{4})";

static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(
        r"(?i)\b(?P<start>{DATE})\s*(?:-|–|—|to|until|till|through)\s*(?P<end>{DATE}|present|current|now|today|ongoing|date)"
    );
    Regex::new(&pattern).expect("valid date range pattern")
});

static MONTH_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?P<m>[a-z]+)\.?,?\s+(?P<y>\d{4})$").expect("valid month pattern")
});

fn month_number(name: &str) -> Option<u32> {
    let name = name.to_ascii_lowercase();
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    months
        .iter()
        .position(|m| name.starts_with(m))
        .map(|i| i as u32 + 1)
}

fn parse_date(text: &str) -> Option<YearMonth> {
    let text = text.trim();
    let plausible = |year: i32| (1950..=2100).contains(&year);
    if let Some(caps) = MONTH_YEAR.captures(text) {
        let year: i32 = caps["y"].parse().ok()?;
        return plausible(year)
            .then(|| YearMonth::new(year, month_number(&caps["m"]).unwrap_or(1)));
    }
    if let Some((month, year)) = text.split_once('/') {
        let (month, year): (u32, i32) = (month.parse().ok()?, year.parse().ok()?);
        return (plausible(year) && (1..=12).contains(&month)).then(|| YearMonth::new(year, month));
    }
    if let Some((year, month)) = text.split_once('-') {
        let (year, month): (i32, u32) = (year.parse().ok()?, month.parse().ok()?);
        return (plausible(year) && (1..=12).contains(&month)).then(|| YearMonth::new(year, month));
    }
    let year: i32 = text.parse().ok()?;
    plausible(year).then(|| YearMonth::new(year, 1))
}

/// Every date range in `text`, with the line it was found on.
pub fn find_ranges(text: &str) -> Vec<DateRange> {
    let mut ranges = Vec::new();
    for line in text.lines() {
        for caps in RANGE.captures_iter(line) {
            let Some(start) = parse_date(&caps["start"]) else {
                continue;
            };
            let end_text = caps["end"].to_ascii_lowercase();
            let end = if ["present", "current", "now", "today", "ongoing", "date"]
                .contains(&end_text.as_str())
            {
                None
            } else {
                match parse_date(&caps["end"]) {
                    Some(end) if end >= start => Some(end),
                    _ => continue,
                }
            };
            ranges.push(DateRange {
                start,
                end,
                text: line.trim().to_owned(),
            });
        }
    }
    ranges
}

/// Years covered by `ranges` (overlaps once, "present" = `today`), to one decimal.
pub fn years_covered(ranges: &[DateRange], today: YearMonth) -> f32 {
    let mut spans: Vec<(i64, i64)> = ranges
        .iter()
        .map(|r| {
            let end = r.end.unwrap_or(today).index().min(today.index());
            (r.start.index(), end)
        })
        .filter(|(start, end)| end > start)
        .collect();
    spans.sort_unstable();
    let mut months = 0i64;
    let mut current: Option<(i64, i64)> = None;
    for (start, end) in spans {
        match current {
            Some((s, e)) if start <= e => current = Some((s, e.max(end))),
            Some((s, e)) => {
                months += e - s;
                current = Some((start, end));
            }
            None => current = Some((start, end)),
        }
    }
    if let Some((s, e)) = current {
        months += e - s;
    }
    (months as f32 / 12.0 * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ym(year: i32, month: u32) -> YearMonth {
        YearMonth::new(year, month)
    }

    #[test]
    fn finds_common_forms() {
        let text = "Acme — Jan 2019 – Present\nWidgets 03/2015 - 12/2018\nStartup 2012-2014\nMay 2020 to Current\nSept. 2010 — Feb. 2011\n2016-03 to 2016-09";
        let ranges = find_ranges(text);
        let got: Vec<(YearMonth, Option<YearMonth>)> =
            ranges.iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(
            got,
            vec![
                (ym(2019, 1), None),
                (ym(2015, 3), Some(ym(2018, 12))),
                (ym(2012, 1), Some(ym(2014, 1))),
                (ym(2020, 5), None),
                (ym(2010, 9), Some(ym(2011, 2))),
                (ym(2016, 3), Some(ym(2016, 9))),
            ]
        );
    }

    #[test]
    fn ignores_non_dates() {
        assert!(find_ranges("Call 555-1234 or 2019 was great").is_empty());
        assert!(find_ranges("2020 - 2015").is_empty(), "end before start");
    }

    #[test]
    fn overlapping_ranges_count_once() {
        let ranges = find_ranges("2010 - 2014\n2012 - 2016\n2018 - 2019");
        assert_eq!(years_covered(&ranges, ym(2026, 1)), 7.0);
        let present = find_ranges("Jan 2020 - Present");
        assert_eq!(years_covered(&present, ym(2025, 7)), 5.5);
    }
}
