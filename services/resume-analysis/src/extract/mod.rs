//! Everything extracted from a résumé's text: [`extract`] assembles a [`Profile`] from
//! the submodules, one concept each.

pub mod contact;
pub mod dates;
mod months;
pub mod sections;
pub mod skills;

use serde::{Deserialize, Serialize};

use contact::Links;
use dates::{DateRange, YearMonth};
use sections::Sections;
use skills::SkillHit;

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
    /// Years covered by the positions, overlaps counted once, to one decimal.
    #[serde(serialize_with = "one_decimal")]
    pub years_of_experience: f32,
    pub skills: Vec<SkillHit>,
    /// The candidate's current or most recent title, when stated near the top.
    pub headline: Option<String>,
}

/// Writes an `f32` such as 11.8 as the JSON number 11.8, not 11.800000190734863 (what
/// widening it to `f64` gives, as `serde_json::to_value` does).
fn one_decimal<S: serde::Serializer>(value: &f32, serializer: S) -> Result<S::Ok, S::Error> {
    let decimal: f64 = format!("{value:.1}").parse().unwrap_or_default();
    serializer.serialize_f64(decimal)
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

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: YearMonth = YearMonth {
        year: 2026,
        month: 11,
    };

    #[test]
    fn education_is_not_experience() {
        let with_heading = extract(
            "Ana Lima\nExperience\nAcme, Jan 2018 – Jan 2020\nEducation\nBSc, 2010 – 2014",
            TODAY,
        );
        assert_eq!(with_heading.positions.len(), 1);
        assert_eq!(with_heading.years_of_experience, 2.0);
        let without_experience_heading = extract(
            "Ana Lima\nAcme, Jan 2018 – Jan 2020\nEducation\nBSc, 2010 – 2014",
            TODAY,
        );
        assert_eq!(without_experience_heading.years_of_experience, 2.0);
    }

    #[test]
    fn concurrent_positions_count_once() {
        let profile = extract(
            "Experience\nLead, Acme, Sep. 2020 \u{ad} Present\nMentor (part time), Beta, 2021 – 2023\nConsultant, Gamma, 06/2018 – 12/2020",
            TODAY,
        );
        assert_eq!(profile.positions.len(), 3);
        // June 2018 to November 2026, once.
        assert_eq!(profile.years_of_experience, 8.4);
    }
}
