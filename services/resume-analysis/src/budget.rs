//! Decode budgets for PDFs, checked before any text is extracted: a PDF names how its
//! streams are compressed, and a few kilobytes of Flate data can expand to gigabytes
//! (twice over with `[/FlateDecode /FlateDecode]`). Each stream that text extraction may
//! decode is inflated once into a counter, never into memory, and the document is refused
//! as [`ParseError::TooLarge`] when one stream or all of them together expand past the
//! budget. Page counts are checked on the raw bytes too, before the file is even loaded.
//!
//! These are the reader's own limits; the worker also runs it in a process with
//! OS-enforced memory and CPU limits, which catch whatever these miss (other filters,
//! object streams decoded while loading).

use std::io::Read;

use flate2::read::ZlibDecoder;
use pdf_extract::{Document as PdfDocument, Object};

use crate::error::ParseError;

/// Most bytes one stream may decode to.
pub const MAX_STREAM_BYTES: u64 = 16 * 1024 * 1024;
/// Most bytes all streams of a document may decode to together.
pub const MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Most pages read: a résumé has a few; thousands only cost time.
pub const MAX_PAGES: usize = 500;
/// Longest chain of filters followed.
const MAX_FILTERS: usize = 4;

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

/// Page objects (`/Type /Page`) written in the file's uncompressed body.
pub fn page_objects_in(bytes: &[u8]) -> usize {
    let mut count = 0;
    let mut rest = bytes;
    while let Some(at) = rest.windows(5).position(|w| w == b"/Type") {
        let after = &rest[at + 5..];
        let name = after
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(after.len());
        let after = &after[name..];
        if after.starts_with(b"/Page") && !after[5..].first().is_some_and(u8::is_ascii_alphanumeric)
        {
            count += 1;
        }
        rest = &rest[at + 5..];
    }
    count
}

/// Position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Inflated sizes of the object streams (`/Type /ObjStm`) written in the file, found in
/// its raw bytes: the parser decodes these while loading, before [`check_streams`] can run.
fn object_stream_sizes(bytes: &[u8], limit: u64) -> Vec<u64> {
    let mut sizes = Vec::new();
    let mut rest = bytes;
    while let Some(at) = find(rest, b"/ObjStm") {
        rest = &rest[at + 7..];
        let Some(start) = find(rest, b"stream") else {
            break;
        };
        let dictionary = &rest[..start];
        let flates = dictionary
            .windows(5)
            .filter(|w| *w == b"/Flat" || *w == b"/Fl ")
            .count()
            .min(MAX_FILTERS);
        let mut data = &rest[start + 6..];
        data = data.strip_prefix(b"\r").unwrap_or(data);
        data = data.strip_prefix(b"\n").unwrap_or(data);
        let end = find(data, b"endstream").unwrap_or(data.len());
        if flates > 0 {
            let mut reader: Box<dyn Read + '_> = Box::new(&data[..end]);
            for _ in 0..flates {
                reader = Box::new(ZlibDecoder::new(reader));
            }
            sizes.push(count(reader, limit));
        }
        rest = &data[end..];
    }
    sizes
}

/// Bytes `reader` yields, counted up to `limit + 1`; damaged data counts what it gave.
fn count(reader: impl Read, limit: u64) -> u64 {
    let mut counted = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut limited = reader.take(limit + 1);
    loop {
        match limited.read(&mut buffer) {
            Ok(0) | Err(_) => return counted,
            Ok(n) => counted += n as u64,
        }
    }
}

fn expands_too_far(limit: u64) -> ParseError {
    ParseError::TooLarge(format!(
        "its compressed content expands to more than {} MiB",
        mib(limit)
    ))
}

/// Refuses a file that declares more pages than are read, or whose object streams
/// expand past the budget, before it is loaded.
pub fn check_raw(bytes: &[u8]) -> Result<(), ParseError> {
    let pages = page_objects_in(bytes);
    if pages > MAX_PAGES {
        return Err(too_many_pages(pages));
    }
    let mut total = 0u64;
    for size in object_stream_sizes(bytes, MAX_STREAM_BYTES) {
        if size > MAX_STREAM_BYTES {
            return Err(expands_too_far(MAX_STREAM_BYTES));
        }
        total += size;
        if total > MAX_DOCUMENT_BYTES {
            return Err(expands_too_far(MAX_DOCUMENT_BYTES));
        }
    }
    Ok(())
}

pub fn too_many_pages(pages: usize) -> ParseError {
    ParseError::TooLarge(format!(
        "the PDF has {pages} pages, more than the {MAX_PAGES} read from one résumé"
    ))
}

/// Bytes `stream` decodes to, counted up to `limit + 1`; `None` when its filters are not
/// all Flate (left to the parser and the process limits) or the data is damaged.
fn decoded_size(stream: &pdf_extract::Stream, limit: u64) -> Option<u64> {
    let filters = stream.filters().ok()?;
    if filters.is_empty()
        || filters.len() > MAX_FILTERS
        || !filters.iter().all(|f| *f == b"FlateDecode" || *f == b"Fl")
    {
        return None;
    }
    let mut reader: Box<dyn Read + '_> = Box::new(stream.content.as_slice());
    for _ in &filters {
        reader = Box::new(ZlibDecoder::new(reader));
    }
    Some(count(reader, limit))
}

/// Refuses a document whose streams decode to more than the budgets.
pub fn check_streams(document: &PdfDocument) -> Result<(), ParseError> {
    let mut total = 0u64;
    for object in document.objects.values() {
        let Object::Stream(stream) = object else {
            continue;
        };
        // Images are not decoded to extract text.
        if stream
            .dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .is_ok_and(|name| name == b"Image")
        {
            continue;
        }
        let limit = MAX_STREAM_BYTES.min(MAX_DOCUMENT_BYTES - total);
        let Some(size) = decoded_size(stream, limit) else {
            continue;
        };
        if size > limit {
            return Err(expands_too_far(if limit == MAX_STREAM_BYTES {
                MAX_STREAM_BYTES
            } else {
                MAX_DOCUMENT_BYTES
            }));
        }
        total += size;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_objects_are_counted_not_page_trees() {
        let body = b"<< /Type /Pages /Kids [] >> << /Type /Page >> <</Type/Page/Parent 1 0 R>> /Type /PageLabel";
        assert_eq!(page_objects_in(body), 2);
    }

    #[test]
    fn a_flate_stream_over_budget_is_too_large() {
        use std::io::Write;
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![0u8; 20 << 20]).unwrap();
        let mut stream =
            pdf_extract::Stream::new(pdf_extract::Dictionary::new(), encoder.finish().unwrap());
        stream
            .dict
            .set("Filter", Object::Name(b"FlateDecode".to_vec()));
        assert_eq!(
            decoded_size(&stream, MAX_STREAM_BYTES),
            Some(MAX_STREAM_BYTES + 1)
        );
        let mut raw =
            b"1 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode >>\nstream\n".to_vec();
        raw.extend(&stream.content);
        raw.extend(b"\nendstream\nendobj\n");
        assert_eq!(object_stream_sizes(&raw, 1 << 20), [(1 << 20) + 1]);
        assert_eq!(check_raw(&raw).unwrap_err().code(), "document_too_large");
        let mut document = PdfDocument::with_version("1.5");
        document.add_object(stream);
        assert_eq!(
            check_streams(&document).unwrap_err().code(),
            "document_too_large"
        );
    }
}
