//! Plain text and Markdown. UTF-8 with or without a byte-order mark; UTF-16 is accepted
//! when marked by its BOM (Word's "Unicode text"). Line endings become `\n`. For Markdown,
//! markup that would confuse extraction (heading hashes, list bullets, emphasis) is
//! removed.

use crate::detect::{UTF16_BE_BOM, UTF16_LE_BOM};
use crate::error::ParseError;

/// The text of `bytes`, BOM removed.
pub fn decode(bytes: &[u8]) -> Result<String, ParseError> {
    let not_text = || {
        ParseError::Unsupported(
            "text that is not valid Unicode is not supported; save it as UTF-8 text, DOCX or PDF"
                .into(),
        )
    };
    let utf16 = |body: &[u8], little: bool| {
        if !body.len().is_multiple_of(2) {
            return Err(not_text());
        }
        let units: Vec<u16> = body
            .chunks_exact(2)
            .map(|pair| {
                let pair = [pair[0], pair[1]];
                if little {
                    u16::from_le_bytes(pair)
                } else {
                    u16::from_be_bytes(pair)
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| not_text())
    };
    if let Some(body) = bytes.strip_prefix(UTF16_LE_BOM) {
        return utf16(body, true);
    }
    if let Some(body) = bytes.strip_prefix(UTF16_BE_BOM) {
        return utf16(body, false);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| not_text())
}

pub fn read(bytes: &[u8], markdown: bool) -> Result<String, ParseError> {
    let text = decode(bytes)?.replace("\r\n", "\n").replace('\r', "\n");
    if !markdown {
        return Ok(text);
    }
    Ok(text
        .lines()
        .map(|line| {
            let line = line.trim_start_matches('#').trim_start();
            let line = line
                .strip_prefix("- ")
                .or_else(|| line.strip_prefix("* "))
                .unwrap_or(line);
            line.replace("**", "").replace("__", "")
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

#[cfg(test)]
mod tests {
    use super::{ParseError, read};

    #[test]
    fn strips_bom_and_markdown() {
        assert_eq!(
            read(b"\xEF\xBB\xBFJane\r\nDoe", false).unwrap(),
            "Jane\nDoe"
        );
        assert_eq!(
            read(b"# Jane Doe\n- **Rust**\n* Go", true).unwrap(),
            "Jane Doe\nRust\nGo"
        );
    }

    #[test]
    fn reads_utf16_with_a_bom() {
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in "Zoë\r\nC#".encode_utf16() {
            le.extend(unit.to_le_bytes());
            be.extend(unit.to_be_bytes());
        }
        assert_eq!(read(&le, false).unwrap(), "Zoë\nC#");
        assert_eq!(read(&be, false).unwrap(), "Zoë\nC#");
        assert!(matches!(
            read(&le[..le.len() - 1], false),
            Err(ParseError::Unsupported(_))
        ));
    }

    #[test]
    fn rejects_invalid_utf8() {
        let error = read(b"Jane \xC3\x28", false).unwrap_err();
        assert_eq!(error.code(), "unsupported");
        assert!(error.to_string().contains("UTF-8"), "{error}");
    }
}
