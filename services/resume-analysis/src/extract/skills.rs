//! Finding taxonomy skills in text. Text is split into tokens that keep the characters
//! skill names use (`C++`, `C#`, `.NET`, `Node.js`, `CI/CD`), then matched longest-first
//! against every name and alias. A bare name that is also an everyday word ("Go", "R",
//! "Express") only counts in a list: the skills section, or a line that lists things.

use serde::{Deserialize, Serialize};

use crate::taxonomy::TAXONOMY;

/// A skill found in the text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillHit {
    pub name: String,
    pub category: String,
}

fn tokens(line: &str) -> Vec<String> {
    let forms = &TAXONOMY.forms;
    let mut out = Vec::new();
    let separators = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                ',' | ';'
                    | '('
                    | ')'
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | '|'
                    | '"'
                    | '•'
                    | '·'
                    | ':'
                    | '–'
                    | '—'
            )
    };
    for raw in line.split(separators) {
        let token = raw
            .trim_matches(|c: char| !(c.is_alphanumeric() || matches!(c, '+' | '#' | '.' | '/')))
            .trim_end_matches('.')
            .to_lowercase();
        if token.is_empty() {
            continue;
        }
        // "a/b" stays whole when a form starts with it ("A/B Testing").
        let starts_a_form = || {
            let prefix = format!("{token} ");
            forms.keys().any(|form| form.starts_with(&prefix))
        };
        if token.contains('/') && !forms.contains_key(&token) && !starts_a_form() {
            out.extend(
                token
                    .split('/')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned),
            );
        } else {
            out.push(token);
        }
    }
    out
}

/// A line that enumerates things: several commas or separators, short items between
/// commas ("English, Swedish"), or a "Label: a, b" form.
fn is_list_line(line: &str) -> bool {
    let separators = line.matches([',', '|', '•', ';']).count();
    let lower = line.trim_start().to_lowercase();
    let short_items = separators == 1
        && !line.trim_end().ends_with('.')
        && line
            .split([',', '|', '•', ';'])
            .all(|item| (1..=3).contains(&item.split_whitespace().count()));
    separators >= 2
        || short_items
        || [
            "skills",
            "technologies",
            "tech stack",
            "stack",
            "tools",
            "languages",
            "frameworks",
        ]
        .iter()
        .any(|label| lower.starts_with(label) && lower[label.len()..].trim_start().starts_with(':'))
}

/// Skill indices found in `text`, in order of first appearance.
fn scan(text: &str, all_lists: bool, found: &mut Vec<usize>) {
    let taxonomy = &*TAXONOMY;
    for line in text.lines() {
        let list = all_lists || is_list_line(line);
        let tokens = tokens(line);
        let mut i = 0;
        while i < tokens.len() {
            let mut advanced = 1;
            for n in (1..=taxonomy.max_tokens.min(tokens.len() - i)).rev() {
                let phrase = tokens[i..i + n].join(" ");
                if let Some((index, ambiguous)) = taxonomy.forms.get(&phrase) {
                    if *ambiguous && !list {
                        continue;
                    }
                    if !found.contains(index) {
                        found.push(*index);
                    }
                    advanced = n;
                    break;
                }
            }
            i += advanced;
        }
    }
}

/// Skills in `text`; everything in `skills_section` counts as a list.
pub fn find(text: &str, skills_section: Option<&str>) -> Vec<SkillHit> {
    let mut found = Vec::new();
    if let Some(section) = skills_section {
        scan(section, true, &mut found);
    }
    scan(text, false, &mut found);
    found
        .into_iter()
        .map(|index| {
            let skill = &TAXONOMY.skills[index];
            SkillHit {
                name: skill.name.to_owned(),
                category: skill.category.to_owned(),
            }
        })
        .collect()
}

/// Skills named in free text such as a job description (bare everyday words excluded).
pub fn find_in_prose(text: &str) -> Vec<String> {
    find(text, None).into_iter().map(|hit| hit.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str, section: Option<&str>) -> Vec<String> {
        find(text, section).into_iter().map(|h| h.name).collect()
    }

    #[test]
    fn tricky_names() {
        let found = names(
            "Built services in C++ and C# on .NET, with Node.js, k8s and Postgres; CI/CD via GitHub Actions.",
            None,
        );
        for expected in [
            "C++",
            "C#",
            ".NET",
            "Node.js",
            "Kubernetes",
            "PostgreSQL",
            "CI/CD",
            "GitHub Actions",
        ] {
            assert!(
                found.contains(&expected.to_owned()),
                "{expected} not in {found:?}"
            );
        }
    }

    #[test]
    fn java_is_not_javascript() {
        assert_eq!(names("Java developer", None), ["Java"]);
        assert_eq!(names("JavaScript developer", None), ["JavaScript"]);
    }

    #[test]
    fn everyday_words_only_count_in_lists() {
        let prose = names(
            "Ready to go the extra mile and express ideas clearly.",
            None,
        );
        assert!(!prose.contains(&"Go".to_owned()), "{prose:?}");
        assert!(!prose.contains(&"Express".to_owned()), "{prose:?}");
        let listed = names("", Some("Go, R, Express"));
        assert_eq!(listed, ["Go", "R", "Express"]);
        let line = names("Languages: Rust, Go and Python", None);
        assert!(line.contains(&"Go".to_owned()), "{line:?}");
        assert_eq!(names("Golang services", None), ["Go"]);
    }

    #[test]
    fn first_names_and_everyday_aliases_need_a_list() {
        let prose = names(
            "Julia Roberts will spark ideas as a shell of a team; her Python in PySpark jobs.",
            None,
        );
        assert_eq!(prose, ["Python", "Apache Spark"]);
        let listed = names("Skills: Julia, Spark, Shell", None);
        assert_eq!(listed, ["Julia", "Apache Spark", "Bash"]);
    }

    #[test]
    fn multi_word_skills_win_over_their_parts() {
        let found = names("Spring Boot, React Native, Google Cloud", None);
        assert_eq!(found, ["Spring Boot", "React Native", "Google Cloud"]);
    }

    #[test]
    fn short_pairs_and_slashed_names_are_lists() {
        assert_eq!(names("English, Swedish", None), ["English"]);
        assert!(names("I speak English, and more.", None).is_empty());
        assert_eq!(names("", Some("A/B Testing, SQL")), ["A/B Testing", "SQL"]);
        assert_eq!(names("Rust/Go", None), ["Rust"]);
    }

    #[test]
    fn trailing_punctuation_is_ignored() {
        assert_eq!(names("I love Rust.", None), ["Rust"]);
    }
}
