#![allow(clippy::unwrap_used)]
//! Extraction and analysis of whole résumés, through `parse` where a file is involved.

use resume_analysis::fixtures::docx_from_paragraphs;
use resume_analysis::{Format, Requirements, Seniority, YearMonth, analyze, extract, parse};

const TODAY: YearMonth = YearMonth {
    year: 2026,
    month: 11,
};

const RESUME: &str = "\
Maria Garcia Lopez
Staff Software Engineer
maria.garcia@example.org · +34 612 345 678 · https://www.linkedin.com/in/maria-garcia/ · github.com/mgarcia · https://mariagarcia.io
Professional Summary
Engineer who likes to go the extra mile on distributed systems.
Employment History
Staff Engineer \u{2014} Globex, May 2020 to Current
Built C++ and C# services on .NET, Node.js gateways, k8s and Postgres.
Senior Engineer \u{2014} Initech, 03/2017 - 11/2020
Backend Developer \u{2014} Hooli, 2015-2018
Education
BSc Computer Science, 2011 \u{2013} 2015
Technical Skills
Rust, Python, Terraform
";

fn skill_names(text: &str) -> Vec<String> {
    extract(text, TODAY)
        .skills
        .into_iter()
        .map(|s| s.name)
        .collect()
}

#[test]
fn contact_details_and_links() {
    let profile = extract(RESUME, TODAY);
    assert_eq!(profile.name.as_deref(), Some("Maria Garcia Lopez"));
    assert_eq!(profile.email.as_deref(), Some("maria.garcia@example.org"));
    assert_eq!(profile.phone.as_deref(), Some("+34612345678"));
    assert_eq!(
        profile.links.linkedin.as_deref(),
        Some("https://www.linkedin.com/in/maria-garcia")
    );
    assert_eq!(
        profile.links.github.as_deref(),
        Some("https://github.com/mgarcia")
    );
    assert_eq!(
        profile.links.portfolio.as_deref(),
        Some("https://mariagarcia.io")
    );
    assert_eq!(profile.links.other, ["https://mariagarcia.io"]);
}

#[test]
fn sections_by_synonym_headings() {
    let sections = extract(RESUME, TODAY).sections;
    assert_eq!(
        sections.summary.as_deref(),
        Some("Engineer who likes to go the extra mile on distributed systems.")
    );
    let experience = sections.experience.unwrap();
    assert!(experience.starts_with("Staff Engineer \u{2014} Globex"));
    assert!(experience.ends_with("Hooli, 2015-2018"));
    assert_eq!(
        sections.education.as_deref(),
        Some("BSc Computer Science, 2011 \u{2013} 2015")
    );
    assert_eq!(sections.skills.as_deref(), Some("Rust, Python, Terraform"));
}

#[test]
fn overlapping_positions_count_once_and_present_is_today() {
    let profile = extract(RESUME, TODAY);
    let ranges: Vec<(YearMonth, Option<YearMonth>)> =
        profile.positions.iter().map(|p| (p.start, p.end)).collect();
    assert_eq!(
        ranges,
        [
            (YearMonth::new(2020, 5), None),
            (YearMonth::new(2017, 3), Some(YearMonth::new(2020, 11))),
            (YearMonth::new(2015, 1), Some(YearMonth::new(2018, 1))),
        ]
    );
    assert!(profile.positions[0].text.contains("Globex"));
    // Jan 2015 – Nov 2026 as one span (142 months), not 78 + 44 + 36; education excluded.
    assert_eq!(profile.years_of_experience, 11.8);
    // "Present" is the date passed in.
    let earlier = extract(RESUME, YearMonth::new(2021, 11));
    assert_eq!(earlier.years_of_experience, 6.8);
}

#[test]
fn tricky_skill_names_and_no_go_from_prose() {
    let skills = skill_names(RESUME);
    for expected in [
        "Rust",
        "Python",
        "Terraform",
        "C++",
        "C#",
        ".NET",
        "Node.js",
        "Kubernetes",
        "PostgreSQL",
        "Distributed Systems",
    ] {
        assert!(
            skills.contains(&expected.to_owned()),
            "{expected} not in {skills:?}"
        );
    }
    assert!(!skills.contains(&"Go".to_owned()), "{skills:?}");
    assert!(!skills.contains(&"C".to_owned()), "{skills:?}");
    assert_eq!(
        skill_names("Skills\nGo, Java\nWrote JavaScript and Golang"),
        ["Go", "Java", "JavaScript"]
    );
    assert_eq!(skill_names("Statistics in R and Go"), ["Statistics"]);
}

#[test]
fn analysis_of_a_staff_engineer() {
    let profile = extract(RESUME, TODAY);
    let requirements = Requirements {
        required_skills: vec![
            "Golang".into(),
            "kubernetes".into(),
            "postgres".into(),
            "AWS".into(),
        ],
        job_description: None,
    };
    let analysis = analyze(&profile, Some(&requirements));
    assert_eq!(analysis.seniority, Seniority::Lead);
    assert_eq!(analysis.skill_count, profile.skills.len());
    assert_eq!(
        analysis.skills_by_category["languages"],
        ["Rust", "Python", "C++", "C#"]
    );
    let score = analysis.r#match.unwrap();
    assert_eq!(score.score, 50);
    assert_eq!(score.matched, ["Kubernetes", "PostgreSQL"]);
    assert_eq!(score.missing, ["Go", "AWS"]);

    let from_description = Requirements {
        required_skills: Vec::new(),
        job_description: Some("You will run Rust services with Terraform on AWS.".into()),
    };
    let score = analyze(&profile, Some(&from_description)).r#match.unwrap();
    assert_eq!(
        (score.score, score.matched, score.missing),
        (
            67,
            vec!["Rust".into(), "Terraform".into()],
            vec!["AWS".into()]
        )
    );
}

#[test]
fn seniority_follows_titles_and_years() {
    let level = |text: &str| analyze(&extract(text, TODAY), None).seniority;
    assert_eq!(
        level("Sam Lee\nSoftware Engineering Intern\nExperience\nAcme, Jun 2026 - Present"),
        Seniority::Intern
    );
    assert_eq!(
        level("Sam Lee\nExperience\nAcme, Jan 2025 - Present"),
        Seniority::Junior
    );
    assert_eq!(
        level("Sam Lee\nPrincipal Engineer\nExperience\nAcme, 2016 - Present"),
        Seniority::Principal
    );
    // A title lifts the level the years found support by one step at most.
    assert_eq!(
        level("Sam Lee\nPrincipal Engineer\nExperience\nAcme, 2022 - Present"),
        Seniority::Senior
    );
    assert_eq!(
        level("Sam Lee\nHead of Platform\nExperience\nAcme, 2020 - Present"),
        Seniority::Lead
    );
}

#[test]
fn output_is_camel_case_json() {
    let profile = extract(RESUME, TODAY);
    let requirements: Requirements =
        serde_json::from_str(r#"{"requiredSkills":["k8s"],"jobDescription":null}"#).unwrap();
    let analysis = analyze(&profile, Some(&requirements));
    let profile_json = serde_json::to_value(&profile).unwrap();
    assert_eq!(profile_json["yearsOfExperience"], 11.8);
    assert!(
        serde_json::to_string(&profile)
            .unwrap()
            .contains(r#""yearsOfExperience":11.8,"#)
    );
    assert_eq!(profile_json["positions"][0]["start"]["year"], 2020);
    assert!(profile_json["links"]["portfolio"].is_string());
    let json = serde_json::to_value(&analysis).unwrap();
    assert_eq!(json["seniority"], "lead");
    assert_eq!(json["match"]["score"], 100);
    assert_eq!(json["skillCount"], profile.skills.len());
    assert!(json["skillsByCategory"]["databases"].is_array());
    let back: resume_analysis::Analysis = serde_json::from_value(json).unwrap();
    assert_eq!(back, analysis);
    assert_eq!(
        serde_json::to_value(analyze(&profile, None)).unwrap()["match"],
        serde_json::Value::Null
    );
}

#[test]
fn markdown_and_docx_resumes() {
    let markdown = "# Jane Doe\n\n## Experience\n- **Acme**, Jan 2019 \u{2013} Present\n\n## Skills\n- Go, Rust";
    let document = parse(markdown.as_bytes(), Some("text/markdown"), Some("cv.md")).unwrap();
    assert_eq!(document.format, Format::Markdown);
    let profile = extract(&document.text, TODAY);
    assert_eq!(profile.name.as_deref(), Some("Jane Doe"));
    assert_eq!(profile.years_of_experience, 7.8);
    assert_eq!(
        profile
            .skills
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["Go", "Rust"]
    );

    let lines: Vec<String> = RESUME.lines().map(str::to_owned).collect();
    let docx = parse(&docx_from_paragraphs(&lines), None, Some("cv.docx")).unwrap();
    assert_eq!(extract(&docx.text, TODAY), extract(RESUME, TODAY));
}
