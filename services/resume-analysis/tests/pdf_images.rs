#![allow(clippy::unwrap_used)]
//! A PDF résumé with a photo: the image is drawn with `Do` next to the text, which must
//! still be read.

use pdf_extract::{Dictionary, Document, Object, Stream};
use resume_analysis::parse;

fn name(text: &str) -> Object {
    Object::Name(text.as_bytes().to_vec())
}

/// One page: a 2×2 grey image (raw or JPEG-encoded bytes) drawn before and after the text.
fn with_photo(filter: Option<&str>, image: &[u8]) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut font = Dictionary::new();
    font.set("Type", name("Font"));
    font.set("Subtype", name("Type1"));
    font.set("BaseFont", name("Helvetica"));
    font.set("Encoding", name("WinAnsiEncoding"));
    let font_id = doc.add_object(font);
    let mut image_dict = Dictionary::new();
    image_dict.set("Type", name("XObject"));
    image_dict.set("Subtype", name("Image"));
    image_dict.set("Width", Object::Integer(2));
    image_dict.set("Height", Object::Integer(2));
    image_dict.set("ColorSpace", name("DeviceGray"));
    image_dict.set("BitsPerComponent", Object::Integer(8));
    if let Some(filter) = filter {
        image_dict.set("Filter", name(filter));
    }
    let image_id = doc.add_object(Stream::new(image_dict, image.to_vec()));
    let mut fonts = Dictionary::new();
    fonts.set("F1", Object::Reference(font_id));
    let mut xobjects = Dictionary::new();
    xobjects.set("Im1", Object::Reference(image_id));
    let mut resources = Dictionary::new();
    resources.set("Font", Object::Dictionary(fonts));
    resources.set("XObject", Object::Dictionary(xobjects));
    let content = b"q 60 0 0 60 480 740 cm /Im1 Do Q\nBT /F1 12 Tf 1 0 0 1 50 780 Tm (Jane Doe) Tj ET\n\
        BT /F1 10 Tf 1 0 0 1 50 760 Tm (jane@example.com) Tj ET\nq 60 0 0 60 480 600 cm /Im1 Do Q\n"
        .to_vec();
    let content_id = doc.add_object(Stream::new(Dictionary::new(), content));
    let mut page = Dictionary::new();
    page.set("Type", name("Page"));
    page.set("Parent", Object::Reference(pages_id));
    page.set("Contents", Object::Reference(content_id));
    page.set("Resources", Object::Dictionary(resources));
    let page_id = doc.add_object(page);
    let mut pages = Dictionary::new();
    pages.set("Type", name("Pages"));
    pages.set("Count", Object::Integer(1));
    pages.set("Kids", Object::Array(vec![Object::Reference(page_id)]));
    pages.set(
        "MediaBox",
        Object::Array(vec![0.into(), 0.into(), 595.into(), 842.into()]),
    );
    doc.objects.insert(pages_id, Object::Dictionary(pages));
    let mut catalog = Dictionary::new();
    catalog.set("Type", name("Catalog"));
    catalog.set("Pages", Object::Reference(pages_id));
    let catalog_id = doc.add_object(catalog);
    doc.trailer.set("Root", Object::Reference(catalog_id));
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn text_beside_a_raw_image_is_read() {
    let pdf = with_photo(None, &[0, 128, 200, 255]);
    let document = parse(&pdf, Some("application/pdf"), None).unwrap();
    assert!(document.text.contains("Jane Doe"), "{:?}", document.text);
    assert!(
        document.text.contains("jane@example.com"),
        "{:?}",
        document.text
    );
}

#[test]
fn text_beside_a_jpeg_photo_is_read() {
    // Bytes that are not a content stream (a JPEG's start and garbage), as photos are.
    let pdf = with_photo(
        Some("DCTDecode"),
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 ( [ << Tj ET BT",
    );
    let document = parse(&pdf, Some("application/pdf"), None).unwrap();
    assert!(document.text.contains("Jane Doe"), "{:?}", document.text);
    assert!(
        document.text.contains("jane@example.com"),
        "{:?}",
        document.text
    );
}
