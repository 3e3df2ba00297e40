//! Per-stream accounting of sequenced events: which of the expected sequence numbers arrived,
//! which arrived twice, and which arrived after a later one.

/// Events seen by one stream; sequence numbers start at 1.
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    seen: Vec<u64>,
    max_seen: u64,
    pub received: u64,
    pub distinct: u64,
    pub duplicated: u64,
    pub reordered: u64,
}

/// How one arrival was classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    InOrder,
    /// New, but a later event had already arrived.
    Reordered,
    Duplicate,
}

impl Tracker {
    /// A tracker expecting about `expected` events (it grows if more come).
    pub fn new(expected: u64) -> Self {
        Self {
            seen: vec![0; expected.div_ceil(64) as usize],
            ..Self::default()
        }
    }

    pub fn record(&mut self, seq: u64) -> Arrival {
        self.received += 1;
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & (1 << bit) != 0 {
            self.duplicated += 1;
            return Arrival::Duplicate;
        }
        self.seen[word] |= 1 << bit;
        self.distinct += 1;
        if seq < self.max_seen {
            self.reordered += 1;
            return Arrival::Reordered;
        }
        self.max_seen = seq;
        Arrival::InOrder
    }

    pub fn has(&self, seq: u64) -> bool {
        self.seen
            .get((seq / 64) as usize)
            .is_some_and(|word| word & (1 << (seq % 64)) != 0)
    }

    /// Events of `1..=expected` that never arrived.
    pub fn lost(&self, expected: u64) -> u64 {
        (1..=expected).filter(|seq| !self.has(*seq)).count() as u64
    }
}

/// Totals over many streams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub expected: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
}

impl Totals {
    pub fn add(&mut self, tracker: &Tracker, expected: u64) {
        self.expected += expected;
        self.received += tracker.received;
        self.lost += tracker.lost(expected);
        self.duplicated += tracker.duplicated;
        self.reordered += tracker.reordered;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lost_duplicated_and_reordered() {
        let mut tracker = Tracker::new(10);
        for seq in [1, 2, 4, 3, 4, 6, 7, 7, 5, 200] {
            tracker.record(seq);
        }
        assert_eq!(tracker.received, 10);
        assert_eq!(tracker.duplicated, 2, "4 and 7 twice");
        assert_eq!(tracker.reordered, 2, "3 after 4, 5 after 7");
        assert_eq!(tracker.lost(10), 3, "8, 9, 10");
        let mut totals = Totals::default();
        totals.add(&tracker, 10);
        totals.add(&Tracker::new(10), 10);
        assert_eq!(
            totals,
            Totals {
                expected: 20,
                received: 10,
                lost: 13,
                duplicated: 2,
                reordered: 2
            }
        );
    }

    #[test]
    fn in_order_arrivals_are_clean() {
        let mut tracker = Tracker::new(3);
        let arrivals: Vec<Arrival> = (1..=3).map(|s| tracker.record(s)).collect();
        assert_eq!(arrivals, [Arrival::InOrder; 3]);
        assert_eq!(tracker.lost(3), 0);
        assert_eq!(tracker.record(2), Arrival::Duplicate);
    }
}
