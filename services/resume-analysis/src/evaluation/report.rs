//! Figures over the whole evaluation set, the per-source table, and the targets.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::score::{CaseResult, Tally};

/// What the analysis must reach on the set.
pub struct Targets;

impl Targets {
    /// Name, email and phone exactly right, each, in this share of documents.
    pub const CONTACT: f64 = 0.95;
    pub const POSITIONS_RECALL: f64 = 0.90;
    /// Years of experience within ±1 year in this share of documents.
    pub const YEARS: f64 = 0.90;
    pub const SKILLS_PRECISION: f64 = 0.90;
    pub const SKILLS_RECALL: f64 = 0.80;
    /// Seniority no more than one level above what the years found support.
    pub const SENIORITY_CONSISTENT: f64 = 1.0;
}

/// Totals over a group of results.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub documents: usize,
    pub unreadable: usize,
    pub name: usize,
    pub email: usize,
    pub phone: usize,
    pub years: usize,
    pub seniority_labelled: usize,
    pub seniority_consistent: usize,
    pub positions: Tally,
    pub titled: usize,
    pub skills: Tally,
    pub links: Tally,
    pub education: Tally,
}

impl Summary {
    pub fn of<'a>(results: impl IntoIterator<Item = &'a CaseResult>) -> Self {
        let mut s = Self::default();
        for r in results {
            s.documents += 1;
            s.unreadable += usize::from(r.error.is_some());
            s.name += usize::from(r.name);
            s.email += usize::from(r.email);
            s.phone += usize::from(r.phone);
            s.years += usize::from(r.years_right());
            s.seniority_labelled += usize::from(r.seniority_labelled);
            s.seniority_consistent += usize::from(r.seniority_consistent);
            s.positions.add(r.positions);
            s.titled += r.titled;
            s.skills.add(r.skills);
            s.links.add(r.links);
            s.education.add(r.education);
        }
        s
    }

    fn share(&self, count: usize) -> f64 {
        if self.documents == 0 {
            1.0
        } else {
            count as f64 / self.documents as f64
        }
    }

    /// Every target missed, in words; empty when all are met.
    pub fn missed_targets(&self) -> Vec<String> {
        let mut missed = Vec::new();
        let mut need = |what: &str, value: f64, target: f64| {
            if value + 1e-9 < target {
                missed.push(format!(
                    "{what}: {:.1} % < {:.0} %",
                    value * 100.0,
                    target * 100.0
                ));
            }
        };
        need("name right", self.share(self.name), Targets::CONTACT);
        need("email right", self.share(self.email), Targets::CONTACT);
        need("phone right", self.share(self.phone), Targets::CONTACT);
        need(
            "positions recall",
            self.positions.recall(),
            Targets::POSITIONS_RECALL,
        );
        need("years within ±1", self.share(self.years), Targets::YEARS);
        need(
            "skills precision",
            self.skills.precision(),
            Targets::SKILLS_PRECISION,
        );
        need(
            "skills recall",
            self.skills.recall(),
            Targets::SKILLS_RECALL,
        );
        need(
            "seniority consistent with years",
            self.share(self.seniority_consistent),
            Targets::SENIORITY_CONSISTENT,
        );
        missed
    }
}

fn pct(value: f64) -> String {
    format!("{:.1} %", value * 100.0)
}

/// The report: overall figures, the per-source table and every miss.
pub fn render(results: &[CaseResult]) -> String {
    let all = Summary::of(results);
    let mut out = String::new();
    let share = |n: usize| pct(all.share(n));
    let _ = writeln!(
        out,
        "Evaluation set: {} documents ({} unreadable)\n",
        all.documents, all.unreadable
    );
    let _ = writeln!(out, "| field | precision | recall / right | target |");
    let _ = writeln!(out, "|---|---|---|---|");
    let _ = writeln!(out, "| name | | {} | ≥ 95 % |", share(all.name));
    let _ = writeln!(out, "| email | | {} | ≥ 95 % |", share(all.email));
    let _ = writeln!(out, "| phone | | {} | ≥ 95 % |", share(all.phone));
    let _ = writeln!(
        out,
        "| positions (start and end month) | {} | {} | recall ≥ 90 % |",
        pct(all.positions.precision()),
        pct(all.positions.recall())
    );
    let _ = writeln!(
        out,
        "| positions whose text holds the title | | {} | |",
        pct(all.titled as f64 / all.positions.expected.max(1) as f64)
    );
    let _ = writeln!(
        out,
        "| years of experience ±1 | | {} | ≥ 90 % |",
        share(all.years)
    );
    let _ = writeln!(
        out,
        "| skills | {} | {} | ≥ 90 % / ≥ 80 % |",
        pct(all.skills.precision()),
        pct(all.skills.recall())
    );
    let _ = writeln!(
        out,
        "| links | {} | {} | |",
        pct(all.links.precision()),
        pct(all.links.recall())
    );
    let _ = writeln!(
        out,
        "| education (school in its section) | | {} | |",
        pct(all.education.recall())
    );
    let _ = writeln!(
        out,
        "| seniority as labelled | | {} | |",
        share(all.seniority_labelled)
    );
    let _ = writeln!(
        out,
        "| seniority consistent with years | | {} | 100 % |",
        share(all.seniority_consistent)
    );
    let mut by_render: BTreeMap<_, Vec<&CaseResult>> = BTreeMap::new();
    for r in results {
        by_render.entry(r.render).or_default().push(r);
    }
    let _ = writeln!(
        out,
        "\n| source | docs | name | email | phone | positions recall | years ±1 | skills P / R |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for (render, group) in by_render {
        let s = Summary::of(group.iter().copied());
        let _ = writeln!(
            out,
            "| {} | {} | {}/{} | {}/{} | {}/{} | {} | {}/{} | {} / {} |",
            render.name(),
            s.documents,
            s.name,
            s.documents,
            s.email,
            s.documents,
            s.phone,
            s.documents,
            pct(s.positions.recall()),
            s.years,
            s.documents,
            pct(s.skills.precision()),
            pct(s.skills.recall()),
        );
    }
    let _ = writeln!(out, "\nMisses:");
    for r in results {
        if let Some(error) = &r.error {
            let _ = writeln!(out, "- {}: unreadable: {error}", r.id);
        }
        for miss in &r.misses {
            let _ = writeln!(out, "- {}: {miss}", r.id);
        }
    }
    out
}
