//! Month, season and "until now" words in the languages résumés are commonly written in
//! (English, German, French, Spanish, Portuguese, Italian, Dutch), and the clean-up of
//! the dashes and spaces that typesetting puts between dates.

/// Written forms of each month, lower case; abbreviations may carry a trailing period.
const MONTHS: [&[&str]; 12] = [
    &[
        "january", "jan", "januar", "jänner", "janvier", "janv", "enero", "ene", "janeiro",
        "gennaio", "gen", "januari",
    ],
    &[
        "february",
        "feb",
        "febr",
        "februar",
        "février",
        "fevrier",
        "févr",
        "fevr",
        "fév",
        "febrero",
        "fevereiro",
        "fev",
        "febbraio",
        "februari",
    ],
    &[
        "march", "mar", "märz", "maerz", "mär", "mars", "marzo", "março", "marco", "maart", "mrt",
    ],
    &["april", "apr", "avril", "avr", "abril", "abr", "aprile"],
    &["may", "mai", "mayo", "maio", "maggio", "mag", "mei"],
    &[
        "june", "jun", "juni", "juin", "junio", "junho", "giugno", "giu",
    ],
    &[
        "july", "jul", "juli", "juillet", "juil", "julio", "julho", "luglio", "lug",
    ],
    &["august", "aug", "août", "aout", "agosto", "ago", "augustus"],
    &[
        "september",
        "sep",
        "sept",
        "septembre",
        "septiembre",
        "setembro",
        "set",
        "settembre",
    ],
    &[
        "october", "oct", "oktober", "okt", "octobre", "octubre", "outubro", "out", "ottobre",
        "ott",
    ],
    &["november", "nov", "novembre", "noviembre", "novembro"],
    &[
        "december",
        "dec",
        "dezember",
        "dez",
        "décembre",
        "decembre",
        "déc",
        "diciembre",
        "dic",
        "dezembro",
        "dicembre",
    ],
];

/// Seasons and the months they start and end in.
const SEASONS: &[(&str, u32, u32)] = &[
    ("spring", 3, 5),
    ("summer", 6, 8),
    ("fall", 9, 11),
    ("autumn", 9, 11),
    ("winter", 12, 12),
    ("frühjahr", 3, 5),
    ("sommer", 6, 8),
    ("herbst", 9, 11),
];

/// Words that end a range that is still open ("2021 – present", "Sept 2023 to date").
pub const OPEN_ENDS: &[&str] = &[
    "present",
    "current",
    "currently",
    "now",
    "today",
    "ongoing",
    "date",
    "till date",
    "to date",
    "present day",
    "heute",
    "jetzt",
    "aktuell",
    "laufend",
    "aujourd'hui",
    "aujourd’hui",
    "présent",
    "actuel",
    "en cours",
    "actualidad",
    "presente",
    "actual",
    "hoy",
    "atual",
    "atualmente",
    "oggi",
    "in corso",
    "heden",
    "nu",
    "huidig",
];

/// Words that open a range without an end ("since 2019", "seit 03/2021").
pub const SINCE: &[&str] = &["since", "seit", "depuis", "desde", "dal", "sinds"];

/// Words between two dates of a range, besides dashes.
pub const RANGE_WORDS: &[&str] = &[
    "to", "until", "till", "through", "thru", "bis", "à", "au", "a", "al", "hasta", "até", "tot",
];

/// The month a written month name stands for (case and a trailing period ignored).
pub fn month_number(word: &str) -> Option<u32> {
    let word = word.trim_end_matches('.').to_lowercase();
    MONTHS
        .iter()
        .position(|forms| forms.contains(&word.as_str()))
        .map(|i| i as u32 + 1)
}

/// The first and last month of a season's name.
pub fn season_months(word: &str) -> Option<(u32, u32)> {
    let word = word.to_lowercase();
    SEASONS
        .iter()
        .find(|(name, _, _)| *name == word)
        .map(|(_, start, end)| (*start, *end))
}

/// A regex alternation of every month and season word, longest first so that
/// "september" is tried before "sep".
pub fn month_alternation() -> String {
    let mut words: Vec<&str> = MONTHS
        .iter()
        .flat_map(|forms| forms.iter().copied())
        .collect();
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    words
        .iter()
        .map(|w| regex_escape(w))
        .collect::<Vec<_>>()
        .join("|")
}

/// A regex alternation of the season words.
pub fn season_alternation() -> String {
    SEASONS
        .iter()
        .map(|(w, _, _)| *w)
        .collect::<Vec<_>>()
        .join("|")
}

/// A regex alternation of `words`, longest first.
pub fn alternation(words: &[&str]) -> String {
    let mut words = words.to_vec();
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    words
        .iter()
        .map(|w| regex_escape(w).replace(' ', r"\s+"))
        .collect::<Vec<_>>()
        .join("|")
}

fn regex_escape(word: &str) -> String {
    regex::escape(word)
}

/// A line with the typesetting between dates made plain: a soft hyphen (U+00AD) inside a
/// word is dropped ("Soft\u{ad}ware"), elsewhere it is the dash a font did not draw
/// ("Sep. 2023 \u{ad} Mar. 2024"); the other hyphen and dash code points become `–`, and
/// no-break and thin spaces become spaces.
pub fn normalise_line(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\u{ad}' => {
                let before = i.checked_sub(1).and_then(|j| chars.get(j));
                let after = chars.get(i + 1);
                let letter = |c: Option<&char>| c.is_some_and(|c| c.is_alphabetic());
                if !(letter(before) && letter(after)) {
                    out.push('–');
                }
            }
            '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2212}' | '\u{fe58}' | '\u{fe63}'
            | '\u{ff0d}' => out.push('–'),
            '\u{a0}' | '\u{2009}' | '\u{202f}' | '\u{2007}' | '\u{2002}' | '\u{2003}' => {
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_names_in_several_languages() {
        for (word, month) in [
            ("Sep.", 9),
            ("Sept", 9),
            ("September", 9),
            ("März", 3),
            ("janv.", 1),
            ("févr.", 2),
            ("ene.", 1),
            ("mei", 5),
            ("Okt", 10),
            ("dic", 12),
            ("août", 8),
        ] {
            assert_eq!(month_number(word), Some(month), "{word}");
        }
        assert_eq!(month_number("Marketing"), None);
        assert_eq!(season_months("Summer"), Some((6, 8)));
    }

    #[test]
    fn soft_hyphens_and_dashes() {
        assert_eq!(
            normalise_line("Sep. 2023 \u{ad} Mar. 2024"),
            "Sep. 2023 – Mar. 2024"
        );
        assert_eq!(normalise_line("2019\u{ad}2021"), "2019–2021");
        assert_eq!(normalise_line("Soft\u{ad}ware"), "Software");
        assert_eq!(normalise_line("2019\u{2011}2021\u{a0}x"), "2019–2021 x");
    }
}
