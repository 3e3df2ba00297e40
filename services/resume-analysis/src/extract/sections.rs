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
            "executive summary",
            "personal statement",
            "career profile",
            "summary of qualifications",
            "profile summary",
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
            "professional background",
            "professional history",
            "employment experience",
            "work & experience",
            "internships",
            "academic positions",
            "academic appointments",
            "professional appointments",
            "berufserfahrung",
            "beruflicher werdegang",
            "berufliche erfahrung",
            "praxiserfahrung",
            "expérience professionnelle",
            "expérience",
            "expériences professionnelles",
            "experiencia",
            "experiencia laboral",
            "experiencia profesional",
            "experiência",
            "experiência profissional",
            "esperienza",
            "esperienze lavorative",
            "esperienza lavorativa",
            "werkervaring",
            "ervaring",
            "work",
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
            "academic history",
            "education history",
            "degrees",
            "ausbildung",
            "bildungsweg",
            "studium",
            "formation",
            "formations",
            "éducation",
            "educación",
            "formación",
            "formación académica",
            "formação",
            "formação acadêmica",
            "istruzione",
            "formazione",
            "opleiding",
            "opleidingen",
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
            "areas of expertise",
            "skills summary",
            "core skills",
            "technical proficiencies",
            "technical expertise",
            "technical competencies",
            "skills & competencies",
            "programming languages",
            "tools",
            "top skills",
            "kenntnisse",
            "fähigkeiten",
            "it-kenntnisse",
            "compétences",
            "compétences techniques",
            "habilidades",
            "competencias",
            "conhecimentos",
            "competências",
            "competenze",
            "competenze tecniche",
            "vaardigheden",
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
            "sprachen",
            "langues",
            "idiomas",
            "lingue",
            "talen",
            "projekte",
            "projets",
            "proyectos",
            "projetos",
            "progetti",
            "teaching",
            "grants",
            "service",
            "research interests",
            "research",
        ],
    ),
];

fn normalise(heading: &str) -> String {
    heading
        .trim()
        .trim_start_matches(['#', '=', '-', '*', '•', ' '])
        .trim_end_matches(['=', '-', '*', ' '])
        .trim_end_matches(':')
        .trim()
        .to_lowercase()
}

fn kind_of(line: &str) -> Option<Kind> {
    let cleaned = normalise(line);
    if cleaned.is_empty() || cleaned.len() > 40 {
        return None;
    }
    HEADINGS
        .iter()
        .find(|(_, names)| names.contains(&cleaned.as_str()))
        .map(|(kind, _)| *kind)
}

/// "Skills: Rust, Go" — a heading with its content on the same line.
fn inline_heading(line: &str) -> Option<(Kind, &str)> {
    let (head, rest) = line.split_once(':')?;
    let rest = rest.trim();
    if rest.is_empty() {
        return None;
    }
    kind_of(head).map(|kind| (kind, rest))
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
    for line in text.lines() {
        if let Some(kind) = kind_of(line) {
            append(&mut sections, current, &buffer.join("\n"));
            buffer.clear();
            current = Some(kind);
            continue;
        }
        // "Tech stack: Rust, Kafka" inside a job counts for the skills too, without
        // ending the job's section.
        if let Some((kind, rest)) = inline_heading(line)
            && Some(kind) != current
        {
            append(&mut sections, Some(kind), rest);
        }
        if current.is_some() {
            buffer.push(line);
        }
    }
    append(&mut sections, current, &buffer.join("\n"));
    sections
}

/// Adds `body` to the section of `kind`, if it is one we keep.
fn append(sections: &mut Sections, kind: Option<Kind>, body: &str) {
    let body = body.trim();
    let slot = match kind {
        Some(Kind::Summary) => &mut sections.summary,
        Some(Kind::Experience) => &mut sections.experience,
        Some(Kind::Education) => &mut sections.education,
        Some(Kind::Skills) => &mut sections.skills,
        Some(Kind::Other) | None => return,
    };
    if body.is_empty() {
        return;
    }
    match slot {
        Some(existing) => {
            existing.push('\n');
            existing.push_str(body);
        }
        None => *slot = Some(body.to_owned()),
    }
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
    fn decorated_and_inline_headings() {
        let text = "== EMPLOYMENT HISTORY ==\nAcme 2019 - 2021\nAreas of Expertise: Rust, Go\nEducation History:\nMSc 2018\nSummary: Builds.";
        let sections = split(text);
        assert_eq!(
            sections.experience.as_deref(),
            Some("Acme 2019 - 2021\nAreas of Expertise: Rust, Go")
        );
        assert_eq!(sections.skills.as_deref(), Some("Rust, Go"));
        assert_eq!(
            sections.education.as_deref(),
            Some("MSc 2018\nSummary: Builds.")
        );
        assert_eq!(sections.summary.as_deref(), Some("Builds."));
        assert!(is_heading("Professional Summary"));
        assert!(!is_heading("Built a summary of the work experience"));
    }

    #[test]
    fn no_headings_no_sections() {
        assert_eq!(split("just some text\nmore"), Sections::default());
    }
}
