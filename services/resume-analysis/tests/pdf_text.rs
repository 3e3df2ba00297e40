//! Text extraction against poppler: every PDF of the evaluation set must give at least
//! 98 % of the words poppler's `pdftotext` reads from it (Debian `poppler-utils`, installed
//! by `scripts/install-deps.sh`).

use resume_analysis::evaluation::{cases, words};
use resume_analysis::parse;

const TARGET: f64 = 0.98;

#[test]
fn every_pdf_gives_the_words_pdftotext_reads() {
    let set = cases::load_all(&cases::default_dir()).expect("the evaluation set loads");
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in set.iter().filter(|c| c.render.is_pdf()) {
        let rendered = cases::render(case).expect("the case renders");
        let reference = words::pdftotext(&rendered.bytes).expect("pdftotext reads the PDF");
        let text = parse(&rendered.bytes, Some("application/pdf"), None)
            .map(|d| d.text)
            .unwrap_or_default();
        let (recall, missing) = words::recall(&reference, &text);
        println!("{:<28} {:>6.1} %", case.id, recall * 100.0);
        if recall < TARGET {
            failures.push(format!(
                "{}: {:.1} %, missing {:?}",
                case.id,
                recall * 100.0,
                missing.iter().take(12).collect::<Vec<_>>()
            ));
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} PDFs in the set");
    assert!(failures.is_empty(), "below {TARGET}: {failures:#?}");
}
