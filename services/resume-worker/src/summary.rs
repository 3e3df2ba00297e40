//! The bounded summary of one analysis ([`ResultSummary`], defined by the contract crate),
//! built from the typed result before it becomes JSON.

use progress_contract::summary::{
    ContactSummary, MatchSummary, ResultSummary, SummaryCounts, result_path,
};
use resume_analysis::{Analysis, Document, Profile};

/// The summary of `job_id`'s result, cut to its budget.
pub fn of(
    job_id: &str,
    document: &Document,
    profile: &Profile,
    analysis: &Analysis,
) -> ResultSummary {
    let seniority = serde_json::to_value(analysis.seniority)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned));
    let matching = analysis.r#match.as_ref();
    ResultSummary {
        summary: true,
        score: matching.map(|m| m.score),
        r#match: matching.map(|m| MatchSummary {
            score: m.score,
            matched: m.matched.clone(),
            missing: m.missing.clone(),
        }),
        seniority,
        years_of_experience: f64::from((profile.years_of_experience * 10.0).round() / 10.0),
        headline: profile.headline.clone(),
        contact: ContactSummary {
            name: profile.name.clone(),
            email: profile.email.clone(),
            phone: profile.phone.clone(),
            linkedin: profile.links.linkedin.clone(),
            github: profile.links.github.clone(),
        },
        top_skills: profile
            .skills
            .iter()
            .take(progress_contract::summary::MAX_LIST_ITEMS)
            .map(|hit| hit.name.clone())
            .collect(),
        counts: SummaryCounts {
            skills: profile.skills.len(),
            positions: profile.positions.len(),
            characters: document.text.chars().count(),
            pages: document.pages,
            matched: matching.map_or(0, |m| m.matched.len()),
            missing: matching.map_or(0, |m| m.missing.len()),
        },
        result_url: result_path(job_id),
        truncated: profile.skills.len() > progress_contract::summary::MAX_LIST_ITEMS,
    }
    .fit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use progress_contract::summary::SUMMARY_MAX_BYTES;
    use resume_analysis::{Requirements, YearMonth, analyze, extract, parse};

    #[test]
    fn a_long_resume_has_a_small_summary() {
        let mut text = String::from("Jane Doe\njane@example.com\nExperience\n");
        for i in 0..400 {
            text.push_str(&format!(
                "Engineer {i} at Company {i}, Jan 2001 – Dec 2002. Rust, Go, Kubernetes, PostgreSQL, Kafka, Terraform\n"
            ));
        }
        text.push_str("Skills\nRust, Go, Python, Java, Kotlin, Scala, Haskell, OCaml, Elixir, Erlang, Ruby, PHP\n");
        let document = parse(text.as_bytes(), Some("text/plain"), None).unwrap();
        let profile = extract(&document.text, YearMonth::new(2025, 1));
        let requirements = Requirements {
            required_skills: vec!["Rust".into(), "COBOL".into()],
            job_description: None,
        };
        let analysis = analyze(&profile, Some(&requirements));
        let summary = of("job-1", &document, &profile, &analysis);
        assert!(summary.bytes() <= SUMMARY_MAX_BYTES);
        assert_eq!(summary.contact.email.as_deref(), Some("jane@example.com"));
        assert_eq!(summary.score, Some(50));
        assert_eq!(summary.counts.positions, profile.positions.len());
        assert!(summary.counts.skills > 10 && summary.top_skills.len() == 10);
        assert!(summary.truncated);
        assert_eq!(summary.result_url, "/api/v1/jobs/job-1/result");
    }
}
