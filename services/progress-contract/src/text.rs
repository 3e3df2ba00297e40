//! Small text helpers for names built on hot paths.

/// `parts` one after the other, in a string allocated once at its final size.
pub(crate) fn joined(parts: &[&str]) -> String {
    let mut text = String::with_capacity(parts.iter().map(|part| part.len()).sum());
    for part in parts {
        text.push_str(part);
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn parts_are_joined_in_order_into_a_string_of_their_size() {
        let text = super::joined(&["job", ":", "42"]);
        assert_eq!(text, "job:42");
        assert_eq!(text.capacity(), 6);
        assert_eq!(super::joined(&[]), "");
    }
}
