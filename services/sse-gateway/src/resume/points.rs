//! Where a resumed stream starts again on each channel: from its session, corrected by the
//! position still held in memory when the old stream is on this pod.

use std::sync::Arc;

use progress_contract::history::StreamId;

use super::session::Session;
use crate::fanout::connection::{Cursors, Position};

/// Where to resume one channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumeFrom {
    /// Replay events after this id.
    After(StreamId),
    /// Replay from this id on (it was not received).
    Including(StreamId),
    /// Nothing is known: replay nothing (live only).
    Live,
}

/// For each channel of `session`, where to resume a client whose last event was number
/// `seen` carrying history id `event` (both from `Last-Event-ID`).
///
/// A stream that only ever had one channel resumes right after `event`: exact, whatever was
/// flushed. Otherwise the log corrects cursors flushed after events the client never
/// received; a client further behind than the log reaches resumes where the channel was
/// subscribed (events may come twice, none is lost).
pub fn resume_points(
    session: &Session,
    seen: u64,
    event: Option<StreamId>,
) -> Vec<(String, ResumeFrom)> {
    let mut channels: Vec<&String> = session.channels.iter().collect();
    channels.sort();
    if let (Some(event), [channel], false) = (event, channels.as_slice(), session.multi) {
        return vec![((*channel).clone(), ResumeFrom::After(event))];
    }
    let log_start = session.log.iter().map(|(n, _, _)| *n).min();
    // The log holds every event numbered after `seen`.
    let log_covers = log_start.is_some_and(|start| start <= seen.saturating_add(1));
    channels
        .into_iter()
        .map(|channel| {
            let unreceived = session
                .log
                .iter()
                .filter(|(n, c, _)| *n > seen && c == channel);
            let first_unreceived = unreceived.map(|(_, _, id)| *id).min();
            let last_received = session
                .log
                .iter()
                .filter(|(n, c, _)| *n <= seen && c == channel)
                .map(|(_, _, id)| *id)
                .max();
            let from = match (first_unreceived, last_received) {
                (Some(_), Some(received)) => ResumeFrom::After(received),
                (Some(first), None) if log_covers => ResumeFrom::Including(first),
                (Some(first), None) => match session.since.get(channel) {
                    Some(since) if *since < first => ResumeFrom::After(*since),
                    _ => ResumeFrom::Including(first),
                },
                (None, _) => match session
                    .cursors
                    .get(channel)
                    .or_else(|| session.since.get(channel))
                {
                    Some(cursor) => ResumeFrom::After(*cursor),
                    None => ResumeFrom::Live,
                },
            };
            (channel.clone(), from)
        })
        .collect()
}

/// The id just before `id` (so a replay from it includes `id`).
fn before(id: StreamId) -> StreamId {
    match id.seq {
        0 => StreamId {
            ms: id.ms.saturating_sub(1),
            seq: u64::MAX,
        },
        seq => StreamId {
            ms: id.ms,
            seq: seq - 1,
        },
    }
}

/// Where a resumed stream stands on each channel before its replay: what the replay starts
/// after (de-duplication skips anything not newer).
pub fn cursors_of(points: &[(String, ResumeFrom)]) -> Cursors {
    points
        .iter()
        .filter_map(|(channel, from)| match from {
            ResumeFrom::After(at) => Some((Arc::from(channel.as_str()), *at)),
            ResumeFrom::Including(at) => Some((Arc::from(channel.as_str()), before(*at))),
            ResumeFrom::Live => None,
        })
        .collect()
}

/// Replaces the session's flushed position by `position` (the stream's, in memory).
pub fn adopt_position(session: &mut Session, position: &Position) {
    session.seq = position.seq;
    for (channel, at) in &position.cursors {
        session.cursors.insert(channel.to_string(), *at);
    }
    session.log = position
        .log
        .iter()
        .map(|(n, channel, at)| (*n, channel.to_string(), *at))
        .collect();
    session.multi |= position.multi;
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, VecDeque};

    use super::*;

    fn at(ms: u64) -> StreamId {
        StreamId { ms, seq: 0 }
    }

    fn id(ms: u64) -> StreamId {
        StreamId { ms, seq: 0 }
    }

    fn session() -> Session {
        Session {
            owner: "a".into(),
            subject: None,
            channels: ["job:1".to_owned(), "job:2".to_owned(), "queue:q".to_owned()].into(),
            seq: 5,
            cursors: [("job:1".to_owned(), id(50)), ("job:2".to_owned(), id(40))].into(),
            log: vec![
                (1, "job:1".into(), id(10)),
                (2, "job:2".into(), id(20)),
                (3, "job:1".into(), id(30)),
                (4, "job:2".into(), id(40)),
                (5, "job:1".into(), id(50)),
            ],
            since: HashMap::new(),
            closed: true,
            multi: true,
        }
    }

    #[test]
    fn everything_read_resumes_at_the_cursors() {
        let points = resume_points(&session(), 5, None);
        assert_eq!(
            points,
            vec![
                ("job:1".into(), ResumeFrom::After(id(50))),
                ("job:2".into(), ResumeFrom::After(id(40))),
                ("queue:q".into(), ResumeFrom::Live),
            ]
        );
    }

    #[test]
    fn unread_tail_is_rewound_per_channel() {
        let points = resume_points(&session(), 2, None);
        assert_eq!(points[0], ("job:1".into(), ResumeFrom::After(id(10))));
        assert_eq!(points[1], ("job:2".into(), ResumeFrom::After(id(20))));
        let points = resume_points(&session(), 0, None);
        assert_eq!(points[0], ("job:1".into(), ResumeFrom::Including(id(10))));
        assert_eq!(points[1], ("job:2".into(), ResumeFrom::Including(id(20))));
    }

    #[test]
    fn a_channel_never_flushed_resumes_where_it_was_subscribed() {
        let mut session = session();
        session.since.insert("queue:q".into(), id(35));
        session.since.insert("job:1".into(), id(5));
        let points = resume_points(&session, 5, None);
        assert_eq!(points[2], ("queue:q".into(), ResumeFrom::After(id(35))));
        // A flushed cursor is newer than the subscription point and wins.
        assert_eq!(points[0], ("job:1".into(), ResumeFrom::After(id(50))));
    }

    #[test]
    fn a_client_ahead_of_the_flush_resumes_at_the_cursors() {
        let points = resume_points(&session(), 9, None);
        assert_eq!(points[0], ("job:1".into(), ResumeFrom::After(id(50))));
    }

    #[test]
    fn a_one_channel_stream_resumes_right_after_the_event_its_id_names() {
        let session = Session {
            owner: "a".into(),
            channels: ["job:1".to_owned()].into(),
            // Never flushed while open: only the subscription point is known.
            since: [("job:1".to_owned(), id(5))].into(),
            ..Default::default()
        };
        assert_eq!(
            resume_points(&session, 7, Some(id(70))),
            [("job:1".to_owned(), ResumeFrom::After(id(70)))]
        );
        assert_eq!(
            resume_points(&session, 7, None),
            [("job:1".to_owned(), ResumeFrom::After(id(5)))],
            "without the event id, from the subscription point"
        );
    }

    #[test]
    fn an_event_id_is_not_trusted_once_the_stream_had_several_channels() {
        // job:2 was added and removed again: the id's event may be job:2's.
        let session = Session {
            channels: ["job:1".to_owned()].into(),
            since: [("job:1".to_owned(), id(5))].into(),
            multi: true,
            ..Default::default()
        };
        assert_eq!(
            resume_points(&session, 7, Some(id(70))),
            [("job:1".to_owned(), ResumeFrom::After(id(5)))]
        );
    }

    #[test]
    fn a_client_behind_the_whole_log_resumes_where_it_subscribed() {
        let mut session = session();
        // The log starts at n = 3: events 1 and 2 are no longer described.
        session.log.drain(..2);
        session.since.insert("job:1".into(), id(1));
        let points = resume_points(&session, 1, None);
        assert_eq!(points[0], ("job:1".into(), ResumeFrom::After(id(1))));
        // Without a subscription point, from the oldest event the log has.
        assert_eq!(points[1], ("job:2".into(), ResumeFrom::Including(id(40))));
        // A client the log covers is rewound exactly.
        let points = resume_points(&session, 2, None);
        assert_eq!(points[0], ("job:1".into(), ResumeFrom::Including(id(30))));
    }

    #[test]
    fn a_stream_still_held_here_resumes_from_its_position_in_memory() {
        let job: Arc<str> = Arc::from("job:1");
        // Flushed a while ago: events 1 and 2.
        let mut session = Session {
            owner: "pod".into(),
            channels: ["job:1".to_owned()].into(),
            seq: 2,
            cursors: [("job:1".to_owned(), at(20))].into(),
            log: vec![(1, "job:1".into(), at(10)), (2, "job:1".into(), at(20))],
            multi: true,
            ..Default::default()
        };
        // Written since, not flushed yet: events 3 and 4; the client read up to 4.
        let position = Position {
            seq: 4,
            cursors: [(job.clone(), at(40))].into_iter().collect(),
            log: VecDeque::from([
                (1, job.clone(), at(10)),
                (2, job.clone(), at(20)),
                (3, job.clone(), at(30)),
                (4, job.clone(), at(40)),
            ]),
            dirty: true,
            multi: true,
        };
        assert_eq!(
            resume_points(&session, 4, None),
            [("job:1".to_owned(), ResumeFrom::After(at(20)))],
            "the flushed session alone would send 3 and 4 again"
        );
        adopt_position(&mut session, &position);
        assert_eq!(
            resume_points(&session, 4, None),
            [("job:1".to_owned(), ResumeFrom::After(at(40)))]
        );
        assert_eq!(
            resume_points(&session, 3, None),
            [("job:1".to_owned(), ResumeFrom::After(at(30)))],
            "what the client did not read is still replayed"
        );
    }
}
