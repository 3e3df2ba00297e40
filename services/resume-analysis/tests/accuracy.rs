//! The analysis against the hand-labelled evaluation set (`eval/cases`): fails when a
//! target of docs/analysis.md is missed, and prints the report either way.

use resume_analysis::evaluation::{cases, report, score};

#[test]
fn the_evaluation_set_meets_the_targets() {
    let set = cases::load_all(&cases::default_dir()).expect("the evaluation set loads");
    assert!(set.len() >= 30, "only {} résumés in the set", set.len());
    let results: Vec<score::CaseResult> = set.iter().map(score::evaluate).collect();
    println!("{}", report::render(&results));
    let summary = report::Summary::of(&results);
    assert_eq!(
        summary.unreadable, 0,
        "every document of the set is readable"
    );
    let missed = summary.missed_targets();
    assert!(missed.is_empty(), "targets missed: {missed:#?}");
}

#[test]
fn the_set_mixes_formats_and_layouts() {
    let set = cases::load_all(&cases::default_dir()).expect("the evaluation set loads");
    let pdfs = set.iter().filter(|c| c.render.is_pdf()).count();
    let docx = set
        .iter()
        .filter(|c| c.render.name().starts_with("docx"))
        .count();
    let two_column = set.iter().filter(|c| c.column_break.is_some()).count();
    assert!(
        pdfs >= 15 && docx >= 5 && set.len() - pdfs - docx >= 5,
        "{pdfs} PDF, {docx} DOCX"
    );
    assert!(two_column >= 4, "{two_column} two-column layouts");
    for case in &set {
        assert!(
            !case.origin.is_empty(),
            "{} says where it came from",
            case.id
        );
        assert!(
            case.labels.name.is_some(),
            "{} has a labelled name",
            case.id
        );
        assert!(
            !case.labels.positions.is_empty(),
            "{} has positions",
            case.id
        );
    }
}
