//! Listing a queue's jobs newest first, optionally by state and organisation.
//!
//! `add` keeps each job id in two sorted sets scored by creation time: one per queue and one
//! per organisation, so an organisation's listing reads only its own jobs. Finished jobs
//! expire; their index entries are removed when a listing meets them, and `add` drops the
//! oldest few whose job is gone, so an index follows the jobs that still exist.
//!
//! A call reads at most [`SCAN_BUDGET`] index entries (or `limit`, when larger), so a state
//! filter that matches rarely returns a short page, even an empty one, with a `next_cursor`
//! to go on from. The cursor is opaque: the place of the last entry read plus a check that
//! ties it to this queue and filter.

use std::collections::HashMap;

use fred::types::Value;

use crate::error::QueueError;
use crate::job::{JobRecord, JobState, NewJob};
use crate::keys::Keys;
use crate::queue::Queue;
use crate::scripts;

/// Index entries one call reads at most (more when `limit` is larger).
pub const SCAN_BUDGET: usize = 1000;

/// Which jobs to list. The default lists every job of the queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub state: Option<JobState>,
    pub organisation_id: Option<String>,
}

/// One page of a listing. Records carry no full `result` (read the job for it); the
/// completed event's summary is kept.
#[derive(Clone, Debug)]
pub struct JobPage {
    pub jobs: Vec<JobRecord>,
    /// Where the next page starts; `None` when the listing is complete.
    pub next_cursor: Option<String>,
}

/// The listing index keys `add` maintains for a new job.
pub(crate) fn index_keys(keys: &Keys, job: &NewJob) -> Vec<String> {
    let mut out = vec![keys.index()];
    if let Some(org) = &job.organisation_id {
        out.push(keys.organisation_index(org));
    }
    out
}

impl Queue {
    /// Jobs newest first, at most `limit` (the caller bounds it). `cursor` is the
    /// `next_cursor` of the previous page; `Err(QueueError::BadCursor)` for any other text.
    pub async fn list(
        &self,
        filter: &ListFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<JobPage, QueueError> {
        let place = match cursor {
            Some(text) => Some(Place::decode(text, &self.scope(filter))?),
            None => None,
        };
        if limit == 0 {
            return Ok(JobPage {
                jobs: Vec::new(),
                next_cursor: cursor.map(str::to_owned),
            });
        }
        let index = match &filter.organisation_id {
            Some(org) => self.keys().organisation_index(org),
            None => self.keys().index(),
        };
        let (score, member) = place
            .as_ref()
            .map(|p| (p.score.to_string(), p.member.clone()))
            .unwrap_or_default();
        let reply: Value = scripts::LIST
            .evalsha_with_reload(
                self.client(),
                vec![index],
                vec![
                    self.keys().job_prefix(),
                    filter.state.map(JobState::as_str).unwrap_or("").to_owned(),
                    limit.to_string(),
                    SCAN_BUDGET.max(limit).to_string(),
                    score,
                    member,
                ],
            )
            .await?;
        self.page(reply, filter)
    }

    fn page(&self, reply: Value, filter: &ListFilter) -> Result<JobPage, QueueError> {
        let Value::Array(items) = reply else {
            return Err(QueueError::Reply(format!("list returned {reply:?}")));
        };
        let mut items = items.into_iter();
        let score = items.next().and_then(|v| v.as_string()).unwrap_or_default();
        let member = items.next().and_then(|v| v.as_string()).unwrap_or_default();
        let next_cursor = if score.is_empty() {
            None
        } else {
            let score = score
                .parse::<f64>()
                .map_err(|_| QueueError::Reply(format!("index score {score}")))?;
            Some(
                Place {
                    score: score as u64,
                    member,
                }
                .encode(&self.scope(filter)),
            )
        };
        let jobs = items
            .filter_map(|record| match record {
                Value::Array(fields) => {
                    let mut hash = HashMap::new();
                    let mut fields = fields.into_iter();
                    while let (Some(k), Some(v)) = (fields.next(), fields.next()) {
                        hash.insert(k.as_string()?, v.as_string()?);
                    }
                    JobRecord::from_hash(self.name(), hash)
                }
                _ => None,
            })
            .collect();
        Ok(JobPage { jobs, next_cursor })
    }

    /// What a cursor is bound to: this queue and this filter.
    fn scope(&self, filter: &ListFilter) -> String {
        format!(
            "{}\n{}\n{}",
            self.name(),
            filter.state.map(JobState::as_str).unwrap_or(""),
            filter.organisation_id.as_deref().unwrap_or("\u{0}")
        )
    }
}

/// The last index entry a page read.
#[derive(Debug, PartialEq, Eq)]
struct Place {
    score: u64,
    member: String,
}

impl Place {
    fn encode(&self, scope: &str) -> String {
        let member = hex(self.member.as_bytes());
        let check = fnv1a(&[scope, &self.score.to_string(), &member]);
        format!("{}.{member}.{check:016x}", self.score)
    }

    fn decode(text: &str, scope: &str) -> Result<Self, QueueError> {
        let mut parts = text.split('.');
        let (Some(score), Some(member), Some(check), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(QueueError::BadCursor);
        };
        let expected = format!("{:016x}", fnv1a(&[scope, score, member]));
        if check != expected || score.is_empty() || member.is_empty() {
            return Err(QueueError::BadCursor);
        }
        Ok(Self {
            score: score.parse().map_err(|_| QueueError::BadCursor)?,
            member: unhex(member).ok_or(QueueError::BadCursor)?,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// FNV-1a over the parts, each followed by a separator: detects cursors that were edited,
/// truncated or made for another filter (not a secret: listing is already authorised).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_within_its_scope_only() {
        let place = Place {
            score: 1_765_000_000_123,
            member: "job.with-odd/chars é".into(),
        };
        let cursor = place.encode("q\nwaiting\norg");
        assert_eq!(Place::decode(&cursor, "q\nwaiting\norg").unwrap(), place);
        assert!(matches!(
            Place::decode(&cursor, "q\n\norg"),
            Err(QueueError::BadCursor)
        ));
    }

    #[test]
    fn edited_or_foreign_cursors_are_refused() {
        let cursor = Place {
            score: 42,
            member: "j1".into(),
        }
        .encode("q");
        let edited = cursor.replacen("42", "43", 1);
        for bad in [
            "",
            "x",
            "1.2.3.4",
            "..",
            &edited,
            "42.6a31.0000000000000000",
        ] {
            assert!(
                matches!(Place::decode(bad, "q"), Err(QueueError::BadCursor)),
                "{bad}"
            );
        }
    }
}
