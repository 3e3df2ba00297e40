//! Word recall of an extracted text against a reference text (poppler's `pdftotext`).

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// Lower-case words: runs of letters and digits.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The share of the reference's words (counted with repetition) found in `text`, and the
/// reference words that are missing.
pub fn recall(reference: &str, text: &str) -> (f64, Vec<String>) {
    let mut have: HashMap<String, usize> = HashMap::new();
    for w in words(text) {
        *have.entry(w).or_default() += 1;
    }
    let wanted = words(reference);
    let mut missing = Vec::new();
    for w in &wanted {
        match have.get_mut(w) {
            Some(n) if *n > 0 => *n -= 1,
            _ => missing.push(w.clone()),
        }
    }
    let share = if wanted.is_empty() {
        1.0
    } else {
        1.0 - missing.len() as f64 / wanted.len() as f64
    };
    (share, missing)
}

/// The text poppler's `pdftotext` reads from `pdf`.
pub fn pdftotext(pdf: &[u8]) -> Result<String, String> {
    let mut child = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("pdftotext cannot run ({e}); install poppler-utils"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let input = pdf.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = writer.join();
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    String::from_utf8(output.stdout).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_counts_repeated_words() {
        let (share, missing) = recall("Rust rust, Go. 2019–2021", "rust go 2019 2021");
        assert_eq!(share, 0.8);
        assert_eq!(missing, ["rust"]);
        assert_eq!(recall("", "x").0, 1.0);
    }
}
