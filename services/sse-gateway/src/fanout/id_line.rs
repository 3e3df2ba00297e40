//! The SSE `id:` line of a numbered event, `id: {connection}:{n}[:{ms}-{seq}]\n`, written
//! into a stack buffer for every delivery. It is the only per-stream part of a frame, so it
//! is built by hand: the UUID's hyphenated form and the numbers' decimal digits, without the
//! formatting machinery.

use progress_contract::history::StreamId;
use uuid::Uuid;

const PREFIX: &[u8] = b"id: ";
const UUID_LEN: usize = uuid::fmt::Hyphenated::LENGTH;
/// The most decimal digits of a `u64`.
const U64_DIGITS: usize = 20;

/// The longest line: the prefix, a UUID, three `u64`s with their separators, and `\n`.
pub const MAX: usize = PREFIX.len() + UUID_LEN + 3 * (U64_DIGITS + 1) + 1;

/// Writes the line of event number `seq` of `connection` into `line`, with the history id
/// `event` when the stream names it; returns the line's length.
pub fn write(connection: &Uuid, seq: u64, event: Option<StreamId>, line: &mut [u8; MAX]) -> usize {
    line[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut at = PREFIX.len();
    connection
        .hyphenated()
        .encode_lower(&mut line[at..at + UUID_LEN]);
    at += UUID_LEN;
    line[at] = b':';
    at = decimal(seq, line, at + 1);
    if let Some(event) = event {
        line[at] = b':';
        at = decimal(event.ms, line, at + 1);
        line[at] = b'-';
        at = decimal(event.seq, line, at + 1);
    }
    line[at] = b'\n';
    at + 1
}

/// Writes `n` in decimal at `at`; returns where the digits end.
fn decimal(mut n: u64, line: &mut [u8; MAX], at: usize) -> usize {
    let mut digits = [0u8; U64_DIGITS];
    let mut start = U64_DIGITS;
    loop {
        start -= 1;
        // A remainder of 10 is one digit.
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let length = U64_DIGITS - start;
    line[at..at + length].copy_from_slice(&digits[start..]);
    at + length
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(connection: &Uuid, seq: u64, event: Option<StreamId>) -> String {
        let mut buffer = [0u8; MAX];
        let length = write(connection, seq, event, &mut buffer);
        String::from_utf8(buffer[..length].to_vec()).unwrap()
    }

    #[test]
    fn names_the_connection_the_number_and_the_event() {
        let id = Uuid::new_v4();
        let event = StreamId {
            ms: 1_700_000_000_123,
            seq: 7,
        };
        assert_eq!(
            line(&id, 42, Some(event)),
            format!("id: {id}:42:1700000000123-7\n")
        );
        assert_eq!(line(&id, 1, None), format!("id: {id}:1\n"));
    }

    #[test]
    fn every_number_is_written_in_full() {
        let id = Uuid::new_v4();
        for n in [0, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX - 1] {
            assert_eq!(line(&id, n, None), format!("id: {id}:{n}\n"));
        }
    }

    #[test]
    fn the_longest_line_fits() {
        let id = Uuid::max();
        let event = StreamId {
            ms: u64::MAX,
            seq: u64::MAX,
        };
        let written = line(&id, u64::MAX, Some(event));
        assert_eq!(written, format!("id: {id}:{0}:{0}-{0}\n", u64::MAX));
        assert_eq!(written.len(), MAX);
    }
}
