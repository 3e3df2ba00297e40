//! Contact details: name, email, phone and links.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::sections::is_heading;

/// Profile links found in the text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Links {
    pub linkedin: Option<String>,
    pub github: Option<String>,
    /// The first other personal site.
    pub portfolio: Option<String>,
    pub other: Vec<String>,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b").expect("valid email pattern")
});
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\(?\d[\d\s().-]{6,}\d").expect("valid phone pattern"));
static LINKEDIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:https?://)?(?:[a-z]{2,3}\.)?linkedin\.com/in/[a-z0-9_%-]+/?")
        .expect("valid pattern")
});
static GITHUB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:https?://)?(?:www\.)?github\.com/[a-z0-9_-]+/?").expect("valid pattern")
});
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:https?://|www\.)[a-z0-9.-]+\.[a-z]{2,}[^\s|,;()<>]*")
        .expect("valid pattern")
});

pub fn email(text: &str) -> Option<String> {
    EMAIL.find(text).map(|m| m.as_str().to_ascii_lowercase())
}

/// The first phone number of 7–15 digits that is not a date range, normalised to digits
/// with a leading `+` when one was written.
pub fn phone(text: &str) -> Option<String> {
    for m in PHONE.find_iter(text) {
        let raw = m.as_str().trim();
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        if !(7..=15).contains(&digits.len()) {
            continue;
        }
        // "2015 - 2018" and "03/2015" are dates, not phones.
        let looks_like_years = raw
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .all(|p| p.len() == 4 && (p.starts_with("19") || p.starts_with("20")));
        if looks_like_years {
            continue;
        }
        return Some(if raw.starts_with('+') {
            format!("+{digits}")
        } else {
            digits
        });
    }
    None
}

fn with_scheme(url: &str) -> String {
    let url = url.trim_end_matches(['.', '/']);
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    }
}

pub fn links(text: &str) -> Links {
    let linkedin = LINKEDIN.find(text).map(|m| with_scheme(m.as_str()));
    let github = GITHUB.find(text).map(|m| with_scheme(m.as_str()));
    let mut other: Vec<String> = Vec::new();
    for m in URL.find_iter(text) {
        let url = with_scheme(m.as_str());
        let lower = url.to_ascii_lowercase();
        if lower.contains("linkedin.com") || lower.contains("github.com") || other.contains(&url) {
            continue;
        }
        other.push(url);
    }
    Links {
        linkedin,
        github,
        portfolio: other.first().cloned(),
        other,
    }
}

/// The candidate's name: the first of the top lines that reads like 2–4 capitalised words.
pub fn name(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(6)
        .find(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (2..=4).contains(&words.len())
                && !is_heading(line)
                && words.iter().all(|w| {
                    let mut chars = w.chars();
                    chars.next().is_some_and(char::is_uppercase)
                        && w.chars()
                            .all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '.'))
                })
                && !line.to_lowercase().contains("engineer")
                && !line.to_lowercase().contains("developer")
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_contact_details() {
        let text = "Jane Doe\nSenior Engineer\nJane.Doe@Example.com | +1 (555) 123-4567\nlinkedin.com/in/janedoe | https://github.com/janedoe | janedoe.dev https://www.janedoe.dev/blog";
        assert_eq!(name(text).as_deref(), Some("Jane Doe"));
        assert_eq!(email(text).as_deref(), Some("jane.doe@example.com"));
        assert_eq!(phone(text).as_deref(), Some("+15551234567"));
        let links = links(text);
        assert_eq!(
            links.linkedin.as_deref(),
            Some("https://linkedin.com/in/janedoe")
        );
        assert_eq!(links.github.as_deref(), Some("https://github.com/janedoe"));
        assert_eq!(
            links.portfolio.as_deref(),
            Some("https://www.janedoe.dev/blog")
        );
    }

    #[test]
    fn years_are_not_phones() {
        assert_eq!(phone("Acme 2015 - 2018"), None);
        assert_eq!(phone("Tel: 020 7946 0958"), Some("02079460958".into()));
    }

    #[test]
    fn headings_and_titles_are_not_names() {
        assert_eq!(
            name("Work Experience\nSoftware Engineer\nJohn O'Neil"),
            Some("John O'Neil".into())
        );
    }
}
