//! Analysis of a profile: seniority, skills by category, and how well it matches the
//! required skills of a job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::extract::{Profile, skills};
use crate::taxonomy::TAXONOMY;

/// What a job asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirements {
    pub required_skills: Vec<String>,
    /// Scanned for skills when `required_skills` is empty.
    pub job_description: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seniority {
    Intern,
    Junior,
    Mid,
    Senior,
    Lead,
    Principal,
}

/// Required skills the profile has and lacks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchScore {
    /// 0–100: the share of required skills found.
    pub score: u8,
    pub matched: Vec<String>,
    pub missing: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    pub seniority: Seniority,
    pub skills_by_category: BTreeMap<String, Vec<String>>,
    pub skill_count: usize,
    /// Present when requirements were given (explicitly or through a job description
    /// naming taxonomy skills); serialized as `"match"`, `null` otherwise.
    pub r#match: Option<MatchScore>,
}

/// Seniority stated by a job title.
fn title_level(title: &str) -> Option<Seniority> {
    let title = title.to_lowercase();
    let has = |word: &str| {
        title
            .split(|c: char| !c.is_alphanumeric() && c != '.')
            .any(|w| w == word)
    };
    if has("principal") || has("distinguished") || has("fellow") || title.contains("chief") {
        Some(Seniority::Principal)
    } else if has("staff")
        || has("lead")
        || title.contains("head of")
        || title.contains("engineering manager")
        || has("teamleiter")
        || has("teamleiterin")
        || has("leiter")
        || has("leiterin")
        || has("director")
        || has("architect")
    {
        Some(Seniority::Lead)
    } else if has("senior") || has("sr.") || has("sr") {
        Some(Seniority::Senior)
    } else if has("junior") || has("jr.") || has("jr") || has("graduate") {
        Some(Seniority::Junior)
    } else if has("intern") || has("internship") || has("trainee") {
        Some(Seniority::Intern)
    } else {
        None
    }
}

/// Years alone place someone at most at senior; titles can say more.
fn years_level(years: f32) -> Seniority {
    match years {
        y if y < 0.5 => Seniority::Intern,
        y if y < 2.0 => Seniority::Junior,
        y if y < 5.0 => Seniority::Mid,
        _ => Seniority::Senior,
    }
}

/// Seniority from the titles (the headline and the most recent position, the higher of
/// the two) and the years found. A title lifts the years' level by one step at most, so
/// the level stays consistent with the experience found; a junior title caps it.
fn seniority(profile: &Profile) -> Seniority {
    let latest = profile
        .positions
        .iter()
        .max_by_key(|p| p.start)
        .and_then(|p| title_level(&p.text));
    let headline = profile.headline.as_deref().and_then(title_level);
    let by_years = years_level(profile.years_of_experience);
    let ceiling = match by_years {
        Seniority::Intern => Seniority::Junior,
        Seniority::Junior => Seniority::Mid,
        Seniority::Mid => Seniority::Senior,
        Seniority::Senior | Seniority::Lead | Seniority::Principal => Seniority::Principal,
    };
    match headline.max(latest) {
        Some(level) if level <= Seniority::Junior => level.max(by_years.min(Seniority::Junior)),
        Some(level) => level.max(by_years).min(ceiling),
        None => by_years,
    }
}

fn canonical(skill: &str) -> String {
    TAXONOMY
        .lookup(skill)
        .map_or_else(|| skill.trim().to_owned(), |s| s.name.to_owned())
}

pub fn analyze(profile: &Profile, requirements: Option<&Requirements>) -> Analysis {
    let mut skills_by_category: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for hit in &profile.skills {
        skills_by_category
            .entry(hit.category.clone())
            .or_default()
            .push(hit.name.clone());
    }
    let r#match = requirements.and_then(|req| {
        let mut required: Vec<String> = if req.required_skills.is_empty() {
            skills::find_in_prose(req.job_description.as_deref().unwrap_or_default())
        } else {
            req.required_skills.iter().map(|s| canonical(s)).collect()
        };
        let mut seen = std::collections::HashSet::new();
        required.retain(|s| !s.is_empty() && seen.insert(s.to_lowercase()));
        if required.is_empty() {
            return None;
        }
        let has = |skill: &str| {
            profile
                .skills
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case(skill))
        };
        let (matched, missing): (Vec<String>, Vec<String>) =
            required.into_iter().partition(|s| has(s));
        let total = matched.len() + missing.len();
        let score = ((matched.len() as f32 / total as f32) * 100.0).round() as u8;
        Some(MatchScore {
            score,
            matched,
            missing,
        })
    });
    Analysis {
        seniority: seniority(profile),
        skill_count: profile.skills.len(),
        skills_by_category,
        r#match,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::dates::YearMonth;
    use crate::extract::extract;

    const TODAY: YearMonth = YearMonth {
        year: 2026,
        month: 11,
    };

    #[test]
    fn titles_and_years_decide_seniority() {
        let senior = extract(
            "Ana Lima\nSenior Backend Engineer\nExperience\nAcme 2020 - Present\nSkills\nRust",
            TODAY,
        );
        assert_eq!(analyze(&senior, None).seniority, Seniority::Senior);
        let lead = extract(
            "Ana Lima\nStaff Engineer\nExperience\nAcme 2020 - Present",
            TODAY,
        );
        assert_eq!(analyze(&lead, None).seniority, Seniority::Lead);
        // A lead title on four years found: one step above what the years support.
        let early_lead = extract(
            "Ana Lima\nStaff Engineer\nExperience\nAcme 2023 - Present",
            TODAY,
        );
        assert_eq!(analyze(&early_lead, None).seniority, Seniority::Senior);
        // No dates found: the title alone does not make a lead.
        let no_dates = extract("Ana Lima\nStaff Engineer\nExperience\nAcme", TODAY);
        assert_eq!(analyze(&no_dates, None).seniority, Seniority::Junior);
        let by_position = extract(
            "Ana Lima\nSenior Engineer\nExperience\nStaff Engineer, Acme, 2016 - Present",
            TODAY,
        );
        assert_eq!(analyze(&by_position, None).seniority, Seniority::Lead);
        let mid = extract(
            "Ana Lima\nSoftware Engineer\nExperience\nAcme 2023 - Present",
            TODAY,
        );
        assert_eq!(analyze(&mid, None).seniority, Seniority::Mid);
        let junior = extract(
            "Ana Lima\nJunior Developer\nExperience\nAcme 2010 - Present",
            TODAY,
        );
        assert_eq!(analyze(&junior, None).seniority, Seniority::Junior);
        let veteran = extract("Ana Lima\nExperience\nAcme 2000 - Present", TODAY);
        assert_eq!(analyze(&veteran, None).seniority, Seniority::Senior);
    }

    #[test]
    fn match_score_uses_canonical_names() {
        let profile = extract("Skills\nRust, Kubernetes, PostgreSQL, Go", TODAY);
        let req = Requirements {
            required_skills: vec!["rust".into(), "k8s".into(), "Haskell".into()],
            job_description: None,
        };
        let analysis = analyze(&profile, Some(&req));
        let matching = analysis.r#match.unwrap();
        assert_eq!(matching.matched, ["Rust", "Kubernetes"]);
        assert_eq!(matching.missing, ["Haskell"]);
        assert_eq!(matching.score, 67);
        assert_eq!(analysis.skills_by_category["languages"], ["Rust", "Go"]);
        assert_eq!(analysis.skill_count, 4);
    }

    #[test]
    fn a_job_description_gives_the_requirements() {
        let profile = extract("Skills\nPython, Django", TODAY);
        let req = Requirements {
            required_skills: Vec::new(),
            job_description: Some("We need Python and Django experience, plus AWS.".into()),
        };
        let matching = analyze(&profile, Some(&req)).r#match.unwrap();
        assert_eq!(matching.matched, ["Python", "Django"]);
        assert_eq!(matching.missing, ["AWS"]);
        assert!(analyze(&profile, None).r#match.is_none());
    }
}
