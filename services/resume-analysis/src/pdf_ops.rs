//! Content-stream operators the text extractor does not know, spelled out as the ones it
//! does. pdf-extract draws no text for `'` (next line, show text) and `"` (set word and
//! character spacing, next line, show text), which Ghostscript and other PostScript
//! converters write for every new line: their pages lose most of their lines. The PDF
//! specification defines both as sequences of `Tw`, `Tc`, `T*` and `Tj`, which is what
//! they become here before extraction.

use pdf_extract::Document;
use pdf_extract::content::{Content, Operation};

/// True when the page's operators include `'` or `"` (a cheap byte check first: streams
/// without either byte cannot hold them).
fn may_quote(content: &[u8]) -> bool {
    content.iter().any(|&b| b == b'\'' || b == b'"')
}

/// The operations with `'` and `"` replaced by their definitions; `None` when there were
/// none.
fn spelled_out(operations: Vec<Operation>) -> Option<Vec<Operation>> {
    if !operations
        .iter()
        .any(|op| op.operator == "'" || op.operator == "\"")
    {
        return None;
    }
    let mut out = Vec::with_capacity(operations.len() + 8);
    for op in operations {
        match op.operator.as_str() {
            "'" => {
                out.push(Operation::new("T*", Vec::new()));
                out.push(Operation::new("Tj", op.operands));
            }
            "\"" if op.operands.len() == 3 => {
                let mut operands = op.operands.into_iter();
                let (Some(word), Some(char), Some(text)) =
                    (operands.next(), operands.next(), operands.next())
                else {
                    continue;
                };
                out.push(Operation::new("Tw", vec![word]));
                out.push(Operation::new("Tc", vec![char]));
                out.push(Operation::new("T*", Vec::new()));
                out.push(Operation::new("Tj", vec![text]));
            }
            _ => out.push(op),
        }
    }
    Some(out)
}

/// Rewrites every page whose content shows text with `'` or `"`.
pub fn spell_out_quote_operators(document: &mut Document) {
    for page in document.get_pages().into_values() {
        let Ok(raw) = document.get_page_content(page) else {
            continue;
        };
        if !may_quote(&raw) {
            continue;
        }
        let Ok(content) = Content::decode(&raw) else {
            continue;
        };
        let Some(operations) = spelled_out(content.operations) else {
            continue;
        };
        if let Ok(bytes) = (Content { operations }).encode() {
            let _ = document.change_page_content(page, bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pdf_extract::Object;

    #[test]
    fn quotes_become_next_line_and_show() {
        let content = Content::decode(b"BT 12 TL (a) Tj (b) ' 1 2 (c) \" ET").unwrap();
        let ops = spelled_out(content.operations).unwrap();
        let names: Vec<&str> = ops.iter().map(|op| op.operator.as_str()).collect();
        assert_eq!(
            names,
            ["BT", "TL", "Tj", "T*", "Tj", "Tw", "Tc", "T*", "Tj", "ET"]
        );
        assert_eq!(ops[8].operands, [Object::string_literal("c")]);
        let plain = Content::decode(b"BT (it's) Tj ET").unwrap();
        assert!(spelled_out(plain.operations).is_none());
        assert!(!may_quote(b"BT (a) Tj ET"));
    }
}
