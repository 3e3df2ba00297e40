//! Date ranges ("Jan 2019 – Present", "2015-2018", "03/2017 - 11/2020", "May 2020 to
//! Current") and the total experience they cover, with overlaps counted once.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::months;

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
    /// The line the range was found on; when the range stands alone on its line, the
    /// line before it (the title or company it dates) and then the range's line.
    pub text: String,
}

/// One date: a month name and year ("Sep. 2023", "März 2019"), a season and year
/// ("Summer 2012"), day.month.year ("01.04.2016"), month/year ("09/2023", "09.2023"),
/// year-month ("2023-09", "2019/04") or a year alone.
fn date_pattern() -> String {
    let months = months::month_alternation();
    let seasons = months::season_alternation();
    format!(
        r"(?:\b(?:{months})\.?,?\s*\d{{4}}\b|\b(?:{seasons})\s+\d{{4}}\b|\b\d{{1,2}}\.\d{{1,2}}\.\d{{4}}\b|\b\d{{1,2}}[/.]\d{{4}}\b|\b\d{{4}}[-/.](?:0?[1-9]|1[0-2])\b|\b\d{{4}}\b)"
    )
}

static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    let date = date_pattern();
    let words = months::alternation(months::RANGE_WORDS);
    let open = months::alternation(months::OPEN_ENDS);
    let pattern = format!(
        r"(?i)(?P<start>{date})\s*(?:[-–—~]+|\b(?:{words})\b)\s*(?:(?P<end>{date})|(?P<open>\b(?:{open}))(?:\b|$))"
    );
    Regex::new(&pattern).expect("valid date range pattern")
});

/// "Jun – Aug 2019": two months of one year.
static MONTHS_OF_A_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    let months = months::month_alternation();
    let pattern =
        format!(r"(?i)\b(?P<m1>{months})\.?\s*[-–—]+\s*(?P<m2>{months})\.?,?\s+(?P<y>\d{{4}})\b");
    Regex::new(&pattern).expect("valid month pair pattern")
});

/// "since 2019", "seit 03/2021": a range without an end.
static SINCE: LazyLock<Regex> = LazyLock::new(|| {
    let date = date_pattern();
    let since = months::alternation(months::SINCE);
    Regex::new(&format!(r"(?i)\b(?:{since})\s+(?P<start>{date})")).expect("valid since pattern")
});

/// "Summer 2012" alone: the season is the range.
static SEASON: LazyLock<Regex> = LazyLock::new(|| {
    let seasons = months::season_alternation();
    Regex::new(&format!(r"(?i)\b(?P<s>{seasons})\s+(?P<y>\d{{4}})\b"))
        .expect("valid season pattern")
});

static NAMED_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?P<m>[\p{L}]+)\.?,?\s*(?P<y>\d{4})$").expect("valid month pattern")
});

fn plausible(year: i32) -> bool {
    (1950..=2100).contains(&year)
}

/// The first and last month a written date stands for (they differ for seasons only;
/// a year alone is its January).
fn parse_date(text: &str) -> Option<(YearMonth, YearMonth)> {
    let text = text.trim();
    let month_of = |year: i32, month: u32| {
        (plausible(year) && (1..=12).contains(&month)).then(|| YearMonth::new(year, month))
    };
    if let Some(caps) = NAMED_MONTH.captures(text) {
        let year: i32 = caps["y"].parse().ok()?;
        if let Some((first, last)) = months::season_months(&caps["m"]) {
            let start = month_of(year, first)?;
            return Some((start, YearMonth::new(year, last)));
        }
        let month = month_of(year, months::month_number(&caps["m"])?)?;
        return Some((month, month));
    }
    let parts: Vec<&str> = text.split(['/', '.', '-']).collect();
    let number = |s: &str| s.parse::<i32>().ok();
    let month = match parts.as_slice() {
        [year] => month_of(number(year)?, 1),
        [_day, month, year] => month_of(number(year)?, u32::try_from(number(month)?).ok()?),
        [a, b] if a.len() == 4 => month_of(number(a)?, u32::try_from(number(b)?).ok()?),
        [a, b] => month_of(number(b)?, u32::try_from(number(a)?).ok()?),
        _ => None,
    }?;
    Some((month, month))
}

/// Lines with a range broken after its dash ("Sep. 2023 –" / "Mar. 2024") joined again.
fn joined_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut pending: Option<String> = None;
    for line in text.lines() {
        let line = months::normalise_line(line);
        let line = match pending.take() {
            Some(head) => format!("{head} {}", line.trim_start()),
            None => line,
        };
        if line.trim_end().ends_with(['-', '–', '—']) {
            pending = Some(line);
        } else {
            lines.push(line);
        }
    }
    lines.extend(pending);
    lines
}

/// True when a line says little besides its dates ("Jan 2021 – Present (5 years)").
fn stands_alone(line: &str) -> bool {
    let without_dates = RANGE.replace_all(line, "");
    let without_dates = MONTHS_OF_A_YEAR.replace_all(&without_dates, "");
    let without_dates = SEASON.replace_all(&without_dates, "");
    let mut depth = 0usize;
    let mut outside = String::new();
    for c in without_dates.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => outside.push(c),
            _ => {}
        }
    }
    // A label ("Duration:") and a length ("5 yrs 6 mos") say nothing of the position.
    const LENGTH_WORDS: &[&str] = &[
        "yr", "yrs", "year", "years", "mo", "mos", "month", "months", "jahre", "monate", "ans",
        "mois", "años", "meses",
    ];
    let letters: usize = outside
        .split_whitespace()
        .filter(|w| !w.ends_with(':'))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !LENGTH_WORDS.contains(&w.to_lowercase().as_str()))
        .map(|w| w.chars().filter(|c| c.is_alphabetic()).count())
        .sum();
    letters < 3
}

/// Every date range in `text`, with the line it was found on.
pub fn find_ranges(text: &str) -> Vec<DateRange> {
    let mut ranges = Vec::new();
    let mut previous = String::new();
    for line in joined_lines(text) {
        // Every date has a year: a line without digits has none.
        if !line.bytes().any(|b| b.is_ascii_digit()) {
            if !line.trim().is_empty() {
                previous = line.trim().to_owned();
            }
            continue;
        }
        let mut found = Vec::new();
        for caps in MONTHS_OF_A_YEAR.captures_iter(&line) {
            let year: i32 = caps["y"].parse().unwrap_or_default();
            let (Some(m1), Some(m2)) = (
                months::month_number(&caps["m1"]),
                months::month_number(&caps["m2"]),
            ) else {
                continue;
            };
            if plausible(year) && m2 >= m1 {
                let whole = caps.get(0).map_or(0..0, |m| m.range());
                found.push((
                    whole,
                    YearMonth::new(year, m1),
                    Some(YearMonth::new(year, m2)),
                ));
            }
        }
        for caps in RANGE.captures_iter(&line) {
            let whole = caps.get(0).map_or(0..0, |m| m.range());
            if found
                .iter()
                .any(|(r, _, _)| r.start < whole.end && whole.start < r.end)
            {
                continue;
            }
            let Some((start, _)) = parse_date(&caps["start"]) else {
                continue;
            };
            let end = match caps.name("end") {
                None => None,
                Some(end) => match parse_date(end.as_str()) {
                    Some((_, end)) if end >= start => Some(end),
                    _ => continue,
                },
            };
            found.push((whole, start, end));
        }
        if found.is_empty()
            && let Some(caps) = SINCE.captures(&line)
            && let Some((start, _)) = parse_date(&caps["start"])
        {
            found.push((0..0, start, None));
        }
        if found.is_empty()
            && let Some(caps) = SEASON.captures(&line)
            && let Some((start, end)) = parse_date(&format!("{} {}", &caps["s"], &caps["y"]))
        {
            found.push((0..0, start, Some(end)));
        }
        found.sort_by_key(|(r, _, _)| r.start);
        let text = if !found.is_empty() && stands_alone(&line) && !previous.is_empty() {
            format!("{previous} | {}", line.trim())
        } else {
            line.trim().to_owned()
        };
        if !line.trim().is_empty() {
            previous = line.trim().to_owned();
        }
        ranges.extend(found.into_iter().map(|(_, start, end)| DateRange {
            start,
            end,
            text: text.clone(),
        }));
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
mod tests;
