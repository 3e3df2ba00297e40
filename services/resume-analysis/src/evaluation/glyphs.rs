//! How the evaluation PDFs name and encode characters.

/// The WinAnsi byte of a character (the standard fonts' encoding); `?` when it has none.
pub fn win_ansi(c: char) -> u8 {
    match c {
        '\u{2013}' => 0x96,
        '\u{2014}' => 0x97,
        '\u{2022}' => 0x95,
        '\u{2019}' => 0x92,
        '\u{201c}' => 0x93,
        '\u{201d}' => 0x94,
        c if (c as u32) < 0x80 => c as u8,
        c if (0xA0..=0xFF).contains(&(c as u32)) => c as u32 as u8,
        _ => b'?',
    }
}

/// The glyph name of a character, as in the Adobe Glyph List.
pub fn glyph_name(c: char) -> String {
    let named = match c {
        'a'..='z' | 'A'..='Z' => return c.to_string(),
        '0'..='9' => [
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        ][c as usize - '0' as usize],
        ' ' => "space",
        '.' => "period",
        ',' => "comma",
        ':' => "colon",
        ';' => "semicolon",
        '-' => "hyphen",
        '@' => "at",
        '+' => "plus",
        '(' => "parenleft",
        ')' => "parenright",
        '/' => "slash",
        '&' => "ampersand",
        '#' => "numbersign",
        '\'' => "quotesingle",
        '|' => "bar",
        '_' => "underscore",
        '%' => "percent",
        '!' => "exclam",
        '?' => "question",
        '*' => "asterisk",
        '=' => "equal",
        '~' => "asciitilde",
        '\u{2013}' => "endash",
        '\u{2014}' => "emdash",
        '\u{2022}' => "bullet",
        '\u{2019}' => "quoteright",
        'é' => "eacute",
        'è' => "egrave",
        'ä' => "adieresis",
        'ö' => "odieresis",
        'ü' => "udieresis",
        'ß' => "germandbls",
        'ç' => "ccedilla",
        'á' => "aacute",
        'ó' => "oacute",
        'í' => "iacute",
        'ñ' => "ntilde",
        'ã' => "atilde",
        'û' => "ucircumflex",
        _ => return format!("uni{:04X}", c as u32),
    };
    named.to_owned()
}
