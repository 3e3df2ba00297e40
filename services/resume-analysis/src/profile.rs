//! Everything extracted from a résumé's text.

use serde::{Deserialize, Serialize};

use crate::contact::{self, Links};
use crate::dates::{self, DateRange, YearMonth};
use crate::sections::{self, Sections};
use crate::skills::{self, SkillHit};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub links: Links,
    pub sections: Sections,
    /// Date ranges of the experience (the whole text when there is no experience section,
    /// minus education).
    pub positions: Vec<DateRange>,
    pub years_of_experience: f32,
    pub skills: Vec<SkillHit>,
    /// The candidate's current or most recent title, when stated near the top.
    pub headline: Option<String>,
}

/// Extracts a profile; `today` resolves "Present".
pub fn extract(text: &str, today: YearMonth) -> Profile {
    let sections = sections::split(text);
    let experience_text = match &sections.experience {
        Some(experience) => experience.clone(),
        None => match &sections.education {
            Some(education) => text.replace(education.as_str(), ""),
            None => text.to_owned(),
        },
    };
    let positions = dates::find_ranges(&experience_text);
    let years_of_experience = dates::years_covered(&positions, today);
    let name = contact::name(text);
    let headline = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(4)
        .skip_while(|l| Some(*l) != name.as_deref())
        .nth(1)
        .filter(|l| !l.contains('@') && !sections::is_heading(l) && l.len() <= 80)
        .map(str::to_owned);
    Profile {
        email: contact::email(text),
        phone: contact::phone(text),
        links: contact::links(text),
        skills: skills::find(text, sections.skills.as_deref()),
        positions,
        years_of_experience,
        headline,
        name,
        sections,
    }
}
