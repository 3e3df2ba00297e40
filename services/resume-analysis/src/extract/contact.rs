//! Contact details: name, email, phone and links.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::sections::is_heading;

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

/// The first phone number of 7–15 digits that is not a date range nor part of a word,
/// address or URL, normalised to its digits. International numbers (written with `+` or
/// the `00` prefix) get a leading `+`, and the national trunk `(0)` after a country code
/// is dropped: "+49 (0)30 1234 5678" → "+493012345678"; "(555) 123-4567" → "5551234567".
pub fn phone(text: &str) -> Option<String> {
    for m in PHONE.find_iter(text) {
        let glued = text[..m.start()]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '/' | '@' | '.' | '_' | '=' | '-'));
        if glued {
            continue;
        }
        let raw = m.as_str().trim();
        // "2015 - 2018" and "2016.03 - 2016.09" are dates, not phones.
        let is_year = |p: &str| p.len() == 4 && (p.starts_with("19") || p.starts_with("20"));
        let mut parts = raw
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty());
        let looks_like_dates =
            parts.clone().any(is_year) && parts.all(|p| p.len() <= 2 || is_year(p));
        if looks_like_dates {
            continue;
        }
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        let international =
            raw.starts_with('+') || (digits.starts_with("00") && !digits.starts_with("000"));
        let digits = if international {
            let without_trunk: String = raw
                .replacen("(0)", "", 1)
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            let without_prefix = if raw.starts_with('+') {
                without_trunk.as_str()
            } else {
                &without_trunk[2..]
            };
            format!("+{without_prefix}")
        } else {
            digits
        };
        if (7..=15).contains(&digits.trim_start_matches('+').len()) {
            return Some(digits);
        }
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

/// Profiles on networks and code hosts: links, but not a personal site.
fn is_social(url: &str) -> bool {
    const HOSTS: &[&str] = &[
        "twitter.com",
        "x.com",
        "facebook.com",
        "instagram.com",
        "youtube.com",
        "tiktok.com",
        "stackoverflow.com",
        "gitlab.com",
        "bitbucket.org",
        "xing.com",
        "t.me",
        "wa.me",
    ];
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    HOSTS
        .iter()
        .any(|h| host == *h || host.ends_with(&format!(".{h}")))
}

/// LinkedIn and GitHub profiles, and every other http(s) or `www.` URL; the portfolio is
/// the first of those that is not a social network or code host.
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
    let portfolio = other.iter().find(|url| !is_social(url)).cloned();
    Links {
        linkedin,
        github,
        portfolio,
        other,
    }
}

/// Words that make a top line a title or a document label rather than a name.
const NOT_NAME_WORDS: &[&str] = &[
    "curriculum",
    "vitae",
    "resume",
    "résumé",
    "cv",
    "engineer",
    "developer",
    "manager",
    "designer",
    "analyst",
    "scientist",
    "consultant",
    "architect",
    "specialist",
    "intern",
    "director",
    "lead",
    "administrator",
    "programmer",
    "officer",
    "student",
    "contact",
];

/// Lower-case particles allowed inside a name ("Ana de la Cruz", "Ludwig van Beethoven").
const PARTICLES: &[&str] = &[
    "de", "da", "do", "dos", "das", "del", "della", "di", "la", "le", "van", "von", "der", "den",
    "ter", "bin", "al", "y",
];

fn is_name_word(word: &str, first_or_last: bool) -> bool {
    let plausible = word
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '’' | '.'));
    let capitalised = word.chars().next().is_some_and(char::is_uppercase);
    plausible && (capitalised || (!first_or_last && PARTICLES.contains(&word)))
}

/// Titles written before a name, dropped from it.
const HONORIFICS: &[&str] = &[
    "dr.", "dr", "prof.", "prof", "mr.", "mrs.", "ms.", "mx.", "ing.",
];

/// The candidate's name: the first of the top lines that reads like 2–4 capitalised words
/// (lower-case particles allowed inside), without digits, `@`, headings or title words.
pub fn name(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(6)
        .find(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let last = words.len().saturating_sub(1);
            (2..=4).contains(&words.len())
                && !is_heading(line)
                && words
                    .iter()
                    .enumerate()
                    .all(|(i, w)| is_name_word(w, i == 0 || i == last))
                && !words
                    .iter()
                    .any(|w| NOT_NAME_WORDS.contains(&w.to_lowercase().as_str()))
        })
        .map(|line| {
            line.split_whitespace()
                .skip_while(|w| HONORIFICS.contains(&w.to_lowercase().as_str()))
                .collect::<Vec<_>>()
                .join(" ")
        })
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
        let social =
            super::links("https://x.com/jane, https://stackoverflow.com/u/1 http://jane.io.");
        assert_eq!(social.portfolio.as_deref(), Some("http://jane.io"));
        assert_eq!(social.other.len(), 3);
        assert_eq!(social.linkedin, None);
    }

    #[test]
    fn years_are_not_phones() {
        assert_eq!(phone("Acme 2015 - 2018"), None);
        assert_eq!(phone("Acme 2016.03 - 2016.09"), None);
        assert_eq!(phone("Tel: 020 7946 0958"), Some("02079460958".into()));
    }

    #[test]
    fn phone_formats_are_normalised() {
        for (written, expected) in [
            ("+1 (555) 123-4567", "+15551234567"),
            ("(555) 123-4567", "5551234567"),
            ("555.123.4567", "5551234567"),
            ("+44 20 7946 0958", "+442079460958"),
            ("+49 (0)30 1234 5678", "+493012345678"),
            ("0049 30 1234567", "+49301234567"),
            ("+33 6 12 34 56 78", "+33612345678"),
            ("06-12345678", "0612345678"),
        ] {
            assert_eq!(
                phone(&format!("Phone: {written} | x")).as_deref(),
                Some(expected),
                "{written}"
            );
        }
        assert_eq!(phone("github.com/jane1234567 and id=98765432"), None);
        assert_eq!(phone("call 12345"), None, "too short");
    }

    #[test]
    fn headings_and_titles_are_not_names() {
        assert_eq!(
            name("Work Experience\nSoftware Engineer\nJohn O'Neil"),
            Some("John O'Neil".into())
        );
        assert_eq!(
            name("Curriculum Vitae\nAna  de la Cruz\nLead Developer"),
            Some("Ana de la Cruz".into())
        );
        assert_eq!(name("JANE DOE\nRust"), Some("JANE DOE".into()));
        assert_eq!(
            name("Dr. Ingrid Solberg\nCV"),
            Some("Ingrid Solberg".into())
        );
        assert_eq!(
            name("Top Skills\nRust\nAaron Goldberg"),
            Some("Aaron Goldberg".into())
        );
        assert_eq!(name("jane doe\nAcme 2019\nJane2 Doe"), None);
        assert_eq!(
            name("Mary Ann Smith Jones Brown\nMary@Example.com Now"),
            None
        );
    }
}
