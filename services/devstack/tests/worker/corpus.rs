//! Hostile documents, generated here (none is stored in the repository): compression bombs,
//! structures that nest or loop, enormous page counts, truncation, oversized text.

use std::io::{Cursor, Write};

use flate2::{Compress, Compression, FlushCompress};

/// zlib data that inflates to `total` zero bytes (a multiple of 1 MiB, at least 2 MiB),
/// built without compressing them all: after the first mebibyte every further one
/// compresses to the same bytes, so they are repeated. About 1 KiB per MiB.
pub fn zeros_zlib(total: u64) -> Vec<u8> {
    const MIB: usize = 1 << 20;
    let chunk = vec![0u8; MIB];
    let mut compress = Compress::new(Compression::best(), true);
    let mut step = |input: &[u8], flush: FlushCompress| -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * 1024);
        let before = compress.total_in();
        loop {
            let consumed = (compress.total_in() - before) as usize;
            out.reserve(64 * 1024);
            compress
                .compress_vec(&input[consumed..], &mut out, flush)
                .expect("deflate");
            let done = (compress.total_in() - before) as usize == input.len();
            if done && out.len() < out.capacity() {
                return out;
            }
        }
    };
    let first = step(&chunk, FlushCompress::Full);
    let repeated = step(&chunk, FlushCompress::Full);
    let last = step(&[], FlushCompress::Finish);
    let chunks = (total / MIB as u64).max(2);
    let mut out = first;
    for _ in 1..chunks {
        out.extend_from_slice(&repeated);
    }
    // The trailer's Adler-32 must be that of `total` zero bytes: a = 1, b = total mod 65521.
    let b = (total % 65_521) as u32;
    let adler = (b << 16) | 1;
    out.extend_from_slice(&last[..last.len() - 4]);
    out.extend_from_slice(&adler.to_be_bytes());
    out
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("deflate");
    encoder.finish().expect("deflate")
}

/// A PDF of numbered objects (`1 0 obj` is the catalog) with a correct cross-reference table.
pub fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.5\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn stream(dictionary: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("<< {dictionary} /Length {} >>\nstream\n", data.len()).into_bytes();
    out.extend(data);
    out.extend(b"\nendstream");
    out
}

const FONT: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";

/// A one-page PDF whose page has `content` (already encoded with `filter`) and, when given,
/// an extra entry in its dictionary.
fn one_page(content: Vec<u8>, filter: &str, extra: &str) -> Vec<u8> {
    pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
             /Resources << /Font << /F1 5 0 R >> >> {extra} >>"
        )
        .into_bytes(),
        stream(filter, &content),
        FONT.as_bytes().to_vec(),
    ])
}

/// A page whose content stream inflates to `size` bytes of zeros.
pub fn flate_bomb(size: u64) -> Vec<u8> {
    one_page(zeros_zlib(size), "/Filter /FlateDecode", "")
}

/// The same bomb deflated a second time: a few kilobytes of file.
pub fn double_flate_bomb(size: u64) -> Vec<u8> {
    one_page(
        zlib(&zeros_zlib(size)),
        "/Filter [/FlateDecode /FlateDecode]",
        "",
    )
}

/// ASCII85, the way PDF writes it (`z` for four zero bytes, `~>` at the end).
fn ascii85(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 5 / 4 + 8);
    for group in bytes.chunks(4) {
        let mut padded = [0u8; 4];
        padded[..group.len()].copy_from_slice(group);
        let mut value = u32::from_be_bytes(padded);
        if value == 0 && group.len() == 4 {
            out.push(b'z');
            continue;
        }
        let mut digits = [0u8; 5];
        for digit in digits.iter_mut().rev() {
            *digit = (value % 85) as u8 + b'!';
            value /= 85;
        }
        out.extend_from_slice(&digits[..group.len() + 1]);
    }
    out.extend(b"~>");
    out
}

/// A flate bomb behind an ASCII85 layer: the reader's own decode budget follows Flate
/// chains only, so this one is stopped by the child's memory limit.
pub fn ascii85_flate_bomb(size: u64) -> Vec<u8> {
    one_page(
        ascii85(&zeros_zlib(size)),
        "/Filter [/ASCII85Decode /FlateDecode]",
        "",
    )
}

/// An object stream (read while the file is loaded, before any page) that inflates to
/// `size` bytes.
pub fn object_stream_bomb(size: u64) -> Vec<u8> {
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_vec(),
        stream("", b"BT /F1 10 Tf 40 800 Td (Jane Doe) Tj ET"),
    ];
    objects.push(stream(
        "/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode",
        &zeros_zlib(size),
    ));
    pdf(&objects)
}

/// `pages` pages sharing one content stream.
pub fn many_pages(pages: usize) -> Vec<u8> {
    let first_page = 5;
    let kids: Vec<String> = (0..pages)
        .map(|i| format!("{} 0 R", first_page + i))
        .collect();
    let mut objects =
        vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} /Resources << /Font << /F1 4 0 R >> >> >>",
            kids.join(" ")
        )
        .into_bytes(),
        stream("", b"BT /F1 10 Tf 40 800 Td (Jane Doe, page after page) Tj ET"),
        FONT.as_bytes().to_vec(),
    ];
    for _ in 0..pages {
        objects.push(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R >>".to_vec(),
        );
    }
    pdf(&objects)
}

/// A page whose dictionary holds arrays nested `depth` levels deep.
pub fn nested_arrays(depth: usize) -> Vec<u8> {
    let nested = format!("/Deep {}0{}", "[".repeat(depth), "]".repeat(depth));
    one_page(
        b"BT /F1 10 Tf 40 800 Td (Jane Doe) Tj ET".to_vec(),
        "",
        &nested,
    )
}

/// A page whose dictionary holds dictionaries nested `depth` levels deep.
pub fn nested_dictionaries(depth: usize) -> Vec<u8> {
    let nested = format!("/Deep {}0{}", "<< /A ".repeat(depth), " >>".repeat(depth));
    one_page(
        b"BT /F1 10 Tf 40 800 Td (Jane Doe) Tj ET".to_vec(),
        "",
        &nested,
    )
}

/// A page tree whose node is its own child, and a content stream whose length is a
/// reference to itself.
pub fn reference_loop() -> Vec<u8> {
    pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_vec(),
        b"<< /Length 4 0 R >>\nstream\nBT /F1 10 Tf 40 800 Td (Jane Doe) Tj ET\nendstream".to_vec(),
    ])
}

/// The first `keep` of a real résumé PDF.
pub fn truncated(pdf: &[u8], keep: usize) -> Vec<u8> {
    pdf[..keep.min(pdf.len())].to_vec()
}

/// A DOCX whose `word/document.xml` is `parts`, written one after the other.
fn docx<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("word/document.xml", options).expect("zip");
    for part in parts {
        zip.write_all(part).expect("zip");
    }
    zip.finish().expect("zip").into_inner()
}

/// A DOCX whose body is `mib` MiB of XML, nearly all whitespace (a ratio near 1000:1),
/// written in pieces so the test never holds it whole.
pub fn docx_bomb(mib: usize) -> Vec<u8> {
    let spaces = vec![b' '; 1 << 20];
    let head: &[u8] =
        b"<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>Jane Doe</w:t></w:r></w:p>";
    let tail: &[u8] = b"</w:body></w:document>";
    docx(
        std::iter::once(head)
            .chain(std::iter::repeat_n(spaces.as_slice(), mib))
            .chain(std::iter::once(tail)),
    )
}

/// A DOCX whose XML nests `depth` elements deep.
pub fn docx_nested(depth: usize) -> Vec<u8> {
    let mut xml = b"<w:document xmlns:w=\"w\"><w:body>".to_vec();
    xml.extend("<w:p>".repeat(depth).as_bytes());
    xml.extend(b"<w:r><w:t>Jane Doe</w:t></w:r>");
    xml.extend("</w:p>".repeat(depth).as_bytes());
    xml.extend(b"</w:body></w:document>");
    docx([xml.as_slice()])
}

/// `size` bytes of text on one line.
pub fn one_line_text(size: usize) -> Vec<u8> {
    let mut text = b"Jane Doe jane@example.com Rust Go Kubernetes ".repeat(size / 45 + 1);
    text.truncate(size);
    text
}

#[test]
fn a_generated_bomb_inflates_to_its_size() {
    use std::io::Read;
    let data = zeros_zlib(4 << 20);
    assert!(data.len() < 16 * 1024, "{} bytes", data.len());
    let mut inflated = Vec::new();
    flate2::read::ZlibDecoder::new(data.as_slice())
        .read_to_end(&mut inflated)
        .expect("a valid zlib stream, checksum included");
    assert_eq!(inflated.len(), 4 << 20);
    assert!(inflated.iter().all(|b| *b == 0));
}
