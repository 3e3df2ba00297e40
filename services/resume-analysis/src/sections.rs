//! Sections by their headings ("Work Experience", "EDUCATION", "Technical Skills:", …).

use serde::{Deserialize, Serialize};

/// The text of the sections the analysis uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sections {
    pub summary: Option<String>,
    pub experience: Option<String>,
    pub education: Option<String>,
    pub skills: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Summary,
    Experience,
    Education,
    Skills,
    /// A heading we recognise but do not use (projects, awards, …): it ends the previous one.
    Other,
}

const HEADINGS: &[(Kind, &[&str])] = &[
    (
        Kind::Summary,
        &[
            "summary",
            "professional summary",
            "profile",
            "professional profile",
            "about",
            "about me",
            "objective",
            "career objective",
            "career summary",
            "overview",
        ],
    ),
    (
        Kind::Experience,
        &[
            "experience",
            "work experience",
            "professional experience",
            "employment",
            "employment history",
            "work history",
            "career history",
            "relevant experience",
            "experience & projects",
        ],
    ),
    (
        Kind::Education,
        &[
            "education",
            "academic background",
            "education and training",
            "education & training",
            "qualifications",
            "academic qualifications",
        ],
    ),
    (
        Kind::Skills,
        &[
            "skills",
            "technical skills",
            "core competencies",
            "competencies",
            "technologies",
            "tech stack",
            "key skills",
            "skills & tools",
            "skills and tools",
            "tools & technologies",
            "expertise",
        ],
    ),
    (
        Kind::Other,
        &[
            "projects",
            "personal projects",
            "certifications",
            "certificates",
            "languages",
            "interests",
            "hobbies",
            "awards",
            "achievements",
            "publications",
            "references",
            "volunteer",
            "volunteering",
            "contact",
            "courses",
            "training",
        ],
    ),
];

fn kind_of(line: &str) -> Option<Kind> {
    let cleaned = line
        .trim()
        .trim_start_matches('#')
        .trim()
        .trim_end_matches(':')
        .trim()
        .to_lowercase();
    if cleaned.is_empty() || cleaned.len() > 40 {
        return None;
    }
    HEADINGS
        .iter()
        .find(|(_, names)| names.contains(&cleaned.as_str()))
        .map(|(kind, _)| *kind)
}

/// True when `line` is a section heading.
pub fn is_heading(line: &str) -> bool {
    kind_of(line).is_some()
}

/// Splits `text` into the sections it has.
pub fn split(text: &str) -> Sections {
    let mut sections = Sections::default();
    let mut current: Option<Kind> = None;
    let mut buffer: Vec<&str> = Vec::new();
    let flush = |kind: Option<Kind>, buffer: &mut Vec<&str>, sections: &mut Sections| {
        let body = buffer.join("\n").trim().to_owned();
        buffer.clear();
        if body.is_empty() {
            return;
        }
        let slot = match kind {
            Some(Kind::Summary) => &mut sections.summary,
            Some(Kind::Experience) => &mut sections.experience,
            Some(Kind::Education) => &mut sections.education,
            Some(Kind::Skills) => &mut sections.skills,
            _ => return,
        };
        match slot {
            Some(existing) => {
                existing.push('\n');
                existing.push_str(&body);
            }
            None => *slot = Some(body),
        }
    };
    for line in text.lines() {
        if let Some(kind) = kind_of(line) {
            flush(current, &mut buffer, &mut sections);
            current = Some(kind);
        } else if current.is_some() {
            buffer.push(line);
        }
    }
    flush(current, &mut buffer, &mut sections);
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_by_headings_and_synonyms() {
        let text = "Jane\nPROFESSIONAL SUMMARY\nBuilds things.\nWork Experience:\nAcme 2019 - Present\nProjects\nA toy\nEducation\nBSc 2014\n## Technical Skills\nRust, Go";
        let sections = split(text);
        assert_eq!(sections.summary.as_deref(), Some("Builds things."));
        assert_eq!(sections.experience.as_deref(), Some("Acme 2019 - Present"));
        assert_eq!(sections.education.as_deref(), Some("BSc 2014"));
        assert_eq!(sections.skills.as_deref(), Some("Rust, Go"));
    }

    #[test]
    fn no_headings_no_sections() {
        assert_eq!(split("just some text\nmore"), Sections::default());
    }
}
