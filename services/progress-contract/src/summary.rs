//! The bounded summary of a finished analysis. A `completed` `job_update` carries this in
//! `result` instead of the whole analysis, so the event fits the gateway's event limit
//! whatever the document: every text is cut, every list is capped, and [`ResultSummary::fit`]
//! guarantees the serialized summary stays within [`SUMMARY_MAX_BYTES`]. The full result
//! is at `resultUrl` (`GET /api/v1/jobs/{jobId}/result`).

use serde::{Deserialize, Serialize};

/// Largest serialized summary, in bytes: a quarter of the gateway's default
/// `MAX_EVENT_BYTES`, leaving room for the rest of the event.
pub const SUMMARY_MAX_BYTES: usize = 16 * 1024;
/// Longest text kept (characters).
pub const MAX_TEXT_CHARS: usize = 160;
/// Most items kept in a list.
pub const MAX_LIST_ITEMS: usize = 10;
/// Longest list item kept (characters).
pub const MAX_ITEM_CHARS: usize = 64;

/// Where the full result of `job_id` is.
pub fn result_path(job_id: &str) -> String {
    format!("/api/v1/jobs/{job_id}/result")
}

/// What a browser shows when a job completes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultSummary {
    /// Always true: tells a summary from a full result.
    pub summary: bool,
    /// The match score (0–100) when requirements were given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#match: Option<MatchSummary>,
    /// `junior`, `mid`, `senior`, `lead` or `principal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seniority: Option<String>,
    pub years_of_experience: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    pub contact: ContactSummary,
    /// The first skills found, at most [`MAX_LIST_ITEMS`].
    pub top_skills: Vec<String>,
    pub counts: SummaryCounts,
    /// `GET` this for the whole result.
    pub result_url: String,
    /// True when a text or a list was cut to fit.
    pub truncated: bool,
}

/// Required skills found and missing (capped lists; `counts` has the totals).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchSummary {
    pub score: u8,
    pub matched: Vec<String>,
    pub missing: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkedin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<String>,
}

/// Totals of the full result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryCounts {
    pub skills: usize,
    pub positions: usize,
    pub characters: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    pub matched: usize,
    pub missing: usize,
}

/// `text` cut to `max` characters (an ellipsis marks the cut); true when cut.
fn cut(text: &mut String, max: usize) -> bool {
    match text.char_indices().nth(max) {
        Some((end, _)) => {
            let keep = text[..end]
                .char_indices()
                .nth(max.saturating_sub(1))
                .map_or(end, |(i, _)| i);
            text.truncate(keep);
            text.push('…');
            true
        }
        None => false,
    }
}

fn cut_list(list: &mut Vec<String>, items: usize) -> bool {
    let mut cut_any = list.len() > items;
    list.truncate(items);
    for item in list.iter_mut() {
        cut_any |= cut(item, MAX_ITEM_CHARS);
    }
    cut_any
}

impl ResultSummary {
    /// Applies the caps; then, while the JSON is still over [`SUMMARY_MAX_BYTES`] (texts
    /// full of characters JSON escapes six bytes wide), shortens the lists and drops the
    /// optional texts. Returns the summary, `truncated` set when anything was cut.
    pub fn fit(mut self) -> Self {
        self.summary = true;
        let mut cut_any = false;
        for text in [
            &mut self.headline,
            &mut self.seniority,
            &mut self.contact.name,
            &mut self.contact.email,
            &mut self.contact.phone,
            &mut self.contact.linkedin,
            &mut self.contact.github,
        ]
        .into_iter()
        .flatten()
        {
            cut_any |= cut(text, MAX_TEXT_CHARS);
        }
        cut_any |= self.cap_lists(MAX_LIST_ITEMS);
        self.truncated |= cut_any;
        let mut items = MAX_LIST_ITEMS;
        while self.bytes() > SUMMARY_MAX_BYTES {
            self.truncated = true;
            if items > 0 {
                items /= 2;
                self.cap_lists(items);
            } else if self.headline.is_some() || self.contact != ContactSummary::default() {
                self.headline = None;
                self.contact = ContactSummary::default();
            } else {
                // Only fixed-size fields and the URL are left.
                self.seniority = None;
                cut(&mut self.result_url, 256);
                break;
            }
        }
        self
    }

    fn cap_lists(&mut self, items: usize) -> bool {
        let mut cut_any = cut_list(&mut self.top_skills, items);
        if let Some(matching) = &mut self.r#match {
            cut_any |= cut_list(&mut matching.matched, items);
            cut_any |= cut_list(&mut matching.missing, items);
        }
        cut_any
    }

    /// Serialized size in bytes.
    pub fn bytes(&self) -> usize {
        serde_json::to_vec(self).map_or(usize::MAX, |json| json.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn huge(text: &str) -> ResultSummary {
        let long = text.repeat(10_000);
        let list: Vec<String> = (0..5_000).map(|i| format!("{long}{i}")).collect();
        ResultSummary {
            score: Some(40),
            r#match: Some(MatchSummary {
                score: 40,
                matched: list.clone(),
                missing: list.clone(),
            }),
            seniority: Some("senior".into()),
            years_of_experience: 12.5,
            headline: Some(long.clone()),
            contact: ContactSummary {
                name: Some(long.clone()),
                email: Some(long.clone()),
                phone: Some(long.clone()),
                linkedin: Some(long.clone()),
                github: Some(long.clone()),
            },
            top_skills: list,
            counts: SummaryCounts::default(),
            result_url: result_path("job-1"),
            ..ResultSummary::default()
        }
    }

    #[test]
    fn any_summary_fits_the_budget() {
        for text in ["x", "é", "\u{1}", "\"", "日本"] {
            let summary = huge(text).fit();
            assert!(
                summary.bytes() <= SUMMARY_MAX_BYTES,
                "{text:?}: {}",
                summary.bytes()
            );
            assert!(summary.truncated && summary.summary);
            assert_eq!(summary.result_url, "/api/v1/jobs/job-1/result");
            assert!(summary.top_skills.len() <= MAX_LIST_ITEMS);
        }
    }

    #[test]
    fn a_small_summary_is_kept_whole() {
        let summary = ResultSummary {
            top_skills: vec!["Rust".into(), "Go".into()],
            contact: ContactSummary {
                name: Some("Jane Doe".into()),
                ..ContactSummary::default()
            },
            ..ResultSummary::default()
        };
        let fitted = summary.clone().fit();
        assert!(!fitted.truncated);
        assert_eq!(fitted.top_skills, summary.top_skills);
        assert_eq!(fitted.contact, summary.contact);
    }

    #[test]
    fn texts_are_cut_on_character_boundaries() {
        let mut text = "é".repeat(MAX_TEXT_CHARS + 5);
        assert!(cut(&mut text, MAX_TEXT_CHARS));
        assert_eq!(text.chars().count(), MAX_TEXT_CHARS);
        assert!(text.ends_with('…'));
        let mut short = "Jane".to_owned();
        assert!(!cut(&mut short, MAX_TEXT_CHARS));
        assert_eq!(short, "Jane");
    }
}
