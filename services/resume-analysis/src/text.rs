//! Plain text and Markdown: UTF-8 with an optional byte-order mark; Markdown markup that
//! would confuse extraction (heading hashes, emphasis) is removed.

use crate::error::ParseError;

pub fn read(bytes: &[u8], markdown: bool) -> Result<String, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ParseError::Unsupported("text that is not UTF-8".into()))?;
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
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
    use super::read;

    #[test]
    fn strips_bom_and_markdown() {
        assert_eq!(
            read(b"\xEF\xBB\xBFJane\r\nDoe", false).unwrap(),
            "Jane\nDoe"
        );
        assert_eq!(
            read(b"# Jane Doe\n- **Rust**", true).unwrap(),
            "Jane Doe\nRust"
        );
    }
}
