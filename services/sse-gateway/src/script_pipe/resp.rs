//! RESP2, as far as the scripts' commands and replies need it: commands are arrays of bulk
//! strings; a reply is a simple string, an error, an integer, a bulk string, an array or nil,
//! read into fred's [`Value`] exactly as fred reads it, so the callers parse one type.

use bytes::{Bytes, BytesMut};
use fred::bytes_utils::Str;
use fred::error::{Error, ErrorKind};
use fred::types::Value;

/// Arrays nested deeper than this are refused: the scripts reply three levels deep at most.
const MAX_DEPTH: usize = 8;

/// A reply that is not RESP2: the connection is out of step and must be dropped.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

/// Appends the command `parts` (name first) to `out`.
pub fn encode(out: &mut Vec<u8>, parts: &[&[u8]]) {
    // Each argument adds `$`, its length (a few digits) and two line ends.
    out.reserve(16 + parts.iter().map(|part| part.len() + 16).sum::<usize>());
    start(out, parts.len());
    for part in parts {
        arg(out, &[part]);
    }
}

/// Starts a command of `count` arguments (name included), each then added by [`arg`].
pub fn start(out: &mut Vec<u8>, count: usize) {
    out.push(b'*');
    push_number(out, count);
}

/// Appends one argument made of `pieces` end to end.
pub fn arg(out: &mut Vec<u8>, pieces: &[&[u8]]) {
    out.push(b'$');
    push_number(out, pieces.iter().map(|p| p.len()).sum());
    for piece in pieces {
        out.extend_from_slice(piece);
    }
    out.extend_from_slice(b"\r\n");
}

fn push_number(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

/// The next complete reply at the start of `buf`, taken out of it: `Ok(None)` while it has not
/// all arrived. A reply that is an error is `Ok(Some(Err(..)))`.
pub fn take_reply(buf: &mut BytesMut) -> Result<Option<Result<Value, Error>>, Malformed> {
    let Some(length) = reply_length(buf, 0, 0)? else {
        return Ok(None);
    };
    let reply = buf.split_to(length).freeze();
    let mut at = 0;
    Ok(Some(read(&reply, &mut at)))
}

/// The line starting at `at` (without its CRLF) and where the next one starts.
fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(at..)?;
    let end = rest.windows(2).position(|pair| pair == b"\r\n")?;
    Some((&rest[..end], at + end + 2))
}

fn number(digits: &[u8]) -> Result<i64, Malformed> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(Malformed)
}

/// The length of the complete reply starting at `at`, `None` while incomplete.
fn reply_length(buf: &[u8], at: usize, depth: usize) -> Result<Option<usize>, Malformed> {
    let Some(&kind) = buf.get(at) else {
        return Ok(None);
    };
    let Some((header, next)) = line(buf, at + 1) else {
        return Ok(None);
    };
    let end = match kind {
        b'+' | b'-' => next,
        b':' => {
            number(header)?;
            next
        }
        b'$' => match number(header)? {
            -1 => next,
            size if size >= 0 => {
                let end = next + size as usize + 2;
                if buf.len() < end {
                    return Ok(None);
                }
                if &buf[end - 2..end] != b"\r\n" {
                    return Err(Malformed);
                }
                end
            }
            _ => return Err(Malformed),
        },
        b'*' => {
            if depth == MAX_DEPTH {
                return Err(Malformed);
            }
            let mut end = next;
            match number(header)? {
                -1 => {}
                count if count >= 0 => {
                    for _ in 0..count {
                        match reply_length(buf, end, depth + 1)? {
                            Some(length) => end += length,
                            None => return Ok(None),
                        }
                    }
                }
                _ => return Err(Malformed),
            }
            end
        }
        _ => return Err(Malformed),
    };
    Ok(Some(end - at))
}

/// Reads the reply at `at` of a buffer [`reply_length`] has checked.
fn read(buf: &Bytes, at: &mut usize) -> Result<Value, Error> {
    let kind = buf[*at];
    let (header, next) = line(buf, *at + 1).unwrap_or_default();
    let header_end = next - 2;
    *at = next;
    match kind {
        b'+' => Ok(text_or_bytes(
            buf.slice(header_end - header.len()..header_end),
        )),
        b'-' => Err(Error::new(
            ErrorKind::Unknown,
            String::from_utf8_lossy(header).into_owned(),
        )),
        b':' => Ok(Value::Integer(number(header).unwrap_or_default())),
        b'$' => match number(header).unwrap_or(-1) {
            -1 => Ok(Value::Null),
            size => {
                let start = *at;
                *at = start + size as usize + 2;
                Ok(text_or_bytes(buf.slice(start..start + size as usize)))
            }
        },
        _ => match number(header).unwrap_or(-1) {
            -1 => Ok(Value::Null),
            count => {
                let mut values = Vec::with_capacity(count as usize);
                let mut failed = None;
                for _ in 0..count {
                    // Every element is read, so a nested error does not leave the rest unread.
                    match read(buf, at) {
                        Ok(value) => values.push(value),
                        Err(error) => failed = failed.or(Some(error)),
                    }
                }
                failed.map_or(Ok(Value::Array(values)), Err)
            }
        },
    }
}

/// A bulk or simple string as fred has it: text when it is UTF-8, bytes otherwise.
fn text_or_bytes(bytes: Bytes) -> Value {
    match Str::from_inner(bytes.clone()) {
        Ok(text) => Value::String(text),
        Err(_) => Value::Bytes(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<Result<Value, String>> {
        let mut buf = BytesMut::from(input);
        let mut replies = Vec::new();
        while let Some(reply) = take_reply(&mut buf).unwrap() {
            replies.push(reply.map_err(|e| e.details().to_owned()));
        }
        assert!(buf.is_empty(), "left unread: {buf:?}");
        replies
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        encode(&mut out, &[b"EVALSHA", b"ab", b"0", b""]);
        assert_eq!(
            out,
            b"*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n0\r\n$0\r\n\r\n"
        );
        let mut out = Vec::new();
        let long = vec![b'x'; 1234];
        encode(&mut out, &[&long]);
        assert!(out.starts_with(b"*1\r\n$1234\r\nxxx"));
        let mut pieces = Vec::new();
        start(&mut pieces, 2);
        arg(&mut pieces, &[b"HGET"]);
        arg(&mut pieces, &[b"since:", b"job:a"]);
        assert_eq!(pieces, b"*2\r\n$4\r\nHGET\r\n$11\r\nsince:job:a\r\n");
    }

    #[test]
    fn replies_read_as_fred_reads_them() {
        let replies = all(
            b"+OK\r\n-NOSCRIPT No matching script\r\n:-42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n\
              *3\r\n:1\r\n*2\r\n$1\r\na\r\n$0\r\n\r\n$2\r\n\xff\xfe\r\n*0\r\n",
        );
        assert_eq!(
            replies,
            vec![
                Ok(Value::String("OK".into())),
                Err("NOSCRIPT No matching script".into()),
                Ok(Value::Integer(-42)),
                Ok(Value::String("hello".into())),
                Ok(Value::Null),
                Ok(Value::Null),
                Ok(Value::Array(vec![
                    Value::Integer(1),
                    Value::Array(vec![Value::String("a".into()), Value::String("".into())]),
                    Value::Bytes(Bytes::from_static(b"\xff\xfe")),
                ])),
                Ok(Value::Array(vec![])),
            ]
        );
    }

    #[test]
    fn a_reply_split_anywhere_waits_for_the_rest() {
        let whole: &[u8] = b"*2\r\n$5\r\nhello\r\n*1\r\n:7\r\n";
        for cut in 0..whole.len() {
            let mut buf = BytesMut::from(&whole[..cut]);
            assert_eq!(take_reply(&mut buf), Ok(None), "cut at {cut}");
            assert_eq!(buf.len(), cut, "nothing is taken before it is complete");
            buf.extend_from_slice(&whole[cut..]);
            assert!(matches!(
                take_reply(&mut buf),
                Ok(Some(Ok(Value::Array(_))))
            ));
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn what_is_not_resp_is_refused_not_guessed() {
        for input in [
            &b"?x\r\n"[..],
            b":12a\r\n",
            b"$-2\r\n",
            b"$3\r\nabcd\r\n",
            b"*-5\r\n",
        ] {
            assert_eq!(
                take_reply(&mut BytesMut::from(input)),
                Err(Malformed),
                "{input:?}"
            );
        }
        let deep = "*1\r\n".repeat(MAX_DEPTH + 1) + ":1\r\n";
        assert_eq!(
            take_reply(&mut BytesMut::from(deep.as_bytes())),
            Err(Malformed)
        );
        let nested_error = all(b"*2\r\n-ERR inside\r\n:1\r\n:5\r\n");
        assert_eq!(
            nested_error,
            vec![Err("ERR inside".into()), Ok(Value::Integer(5))]
        );
    }
}
