//! An incremental Server-Sent-Events parser, as the HTML specification describes it: lines end
//! at LF, CRLF or CR; `event`, `data` (joined with LF) and `id` fields; comments and `retry`
//! ignored; an empty line dispatches. Events are handed out as borrowed slices, so parsing
//! allocates nothing once the buffers have grown.

/// One dispatched event, borrowed from the parser.
#[derive(Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// `message` when the event had no `event:` field.
    pub name: &'a [u8],
    pub data: &'a [u8],
    /// The stream's last event id (persists across events, as EventSource keeps it).
    pub last_id: &'a [u8],
}

#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    /// The previous byte was a CR (a following LF belongs to the same line end).
    after_cr: bool,
    name: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    last_id: Vec<u8>,
    /// The reconnection time the server last asked for (`retry:`), in milliseconds.
    retry_ms: Option<u64>,
}

impl Parser {
    /// The last event id seen so far.
    pub fn last_id(&self) -> &[u8] {
        &self.last_id
    }

    /// The reconnection time the server last asked for (`retry:`), in milliseconds.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Parses `bytes`, calling `on_event` for every complete event.
    pub fn feed(&mut self, mut bytes: &[u8], on_event: &mut dyn FnMut(Event<'_>)) {
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(end) = bytes.iter().position(|b| *b == b'\n' || *b == b'\r') {
            let (line, rest) = bytes.split_at(end);
            let mut rest = &rest[1..];
            if bytes[end] == b'\r' {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            if self.line.is_empty() {
                self.process(line, on_event);
            } else {
                let mut whole = std::mem::take(&mut self.line);
                whole.extend_from_slice(line);
                self.process(&whole, on_event);
                whole.clear();
                self.line = whole;
            }
            bytes = rest;
        }
        self.line.extend_from_slice(bytes);
    }

    fn process(&mut self, line: &[u8], on_event: &mut dyn FnMut(Event<'_>)) {
        if line.is_empty() {
            if self.has_data {
                let data = self.data.strip_suffix(b"\n").unwrap_or(&self.data);
                let name: &[u8] = if self.name.is_empty() {
                    b"message"
                } else {
                    &self.name
                };
                on_event(Event {
                    name,
                    data,
                    last_id: &self.last_id,
                });
            }
            self.name.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => {
                self.name.clear();
                self.name.extend_from_slice(value);
            }
            b"data" => {
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
                self.has_data = true;
            }
            b"id" if !value.contains(&0) => {
                self.last_id.clear();
                self.last_id.extend_from_slice(value);
            }
            // As EventSource: only a value of ASCII digits counts.
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Some(ms) = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                    self.retry_ms = Some(ms);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Seen = Vec<(String, String, String)>;

    fn parse_in_pieces(input: &[u8], piece: usize) -> Seen {
        let mut parser = Parser::default();
        let mut seen = Seen::new();
        for chunk in input.chunks(piece) {
            parser.feed(chunk, &mut |e| {
                seen.push((
                    String::from_utf8_lossy(e.name).into_owned(),
                    String::from_utf8_lossy(e.data).into_owned(),
                    String::from_utf8_lossy(e.last_id).into_owned(),
                ));
            });
        }
        seen
    }

    #[test]
    fn parses_events_whatever_the_pieces() {
        let input = b"retry: 3000\nevent: connected\ndata: {\"a\":1}\n\n: comment\r\n\
            id: c:1\r\nevent: job_update\r\ndata: x\r\ndata:y\r\n\r\ndata: plain\r\rid: 7\nevent: e\ndata\n\n";
        let expected: Seen = vec![
            ("connected".into(), "{\"a\":1}".into(), String::new()),
            ("job_update".into(), "x\ny".into(), "c:1".into()),
            ("message".into(), "plain".into(), "c:1".into()),
            ("e".into(), String::new(), "7".into()),
        ];
        for piece in 1..=input.len() {
            assert_eq!(parse_in_pieces(input, piece), expected, "pieces of {piece}");
        }
    }

    #[test]
    fn the_last_valid_retry_is_kept() {
        let mut parser = Parser::default();
        assert_eq!(parser.retry_ms(), None);
        parser.feed(
            b"retry: 3000\n\nretry: 12x\nretry:\n\nretry: 750\r\n",
            &mut |_| {},
        );
        assert_eq!(parser.retry_ms(), Some(750));
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_but_its_id_is_kept() {
        let mut parser = Parser::default();
        let mut count = 0;
        parser.feed(b"id: 5\nevent: x\n\n", &mut |_| count += 1);
        assert_eq!(count, 0);
        assert_eq!(parser.last_id(), b"5");
    }
}
