//! PDF files of laid-out pages, in three font set-ups real producers use:
//!
//! - [`Fonts::Standard`]: Helvetica with WinAnsi encoding, a line per `Tj` (word processors'
//!   "save as PDF").
//! - [`Fonts::TexSubset`]: a subset font (tagged name, codes numbered from 1 in order of
//!   first use) whose encoding is a `/Differences` array of glyph names and which has no
//!   `ToUnicode` map; words are placed with `TJ` offsets and no space glyphs, as pdfTeX
//!   does.
//! - [`Fonts::CidToUnicode`]: a `Type0` font with two-byte glyph ids (`Identity-H`) and a
//!   `ToUnicode` map, spaces drawn as glyphs, as browsers print HTML. With
//!   `dash_as_soft_hyphen`, the map says U+00AD (soft hyphen) for the dash glyph: what
//!   extractors read between the dates of a popular LaTeX CV class.

use std::collections::BTreeMap;

use pdf_extract::{Dictionary, Document, Object, Stream, StringFormat};

use super::glyphs::{glyph_name, win_ansi};
use super::layout::Placed;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fonts {
    Standard,
    TexSubset,
    CidToUnicode { dash_as_soft_hyphen: bool },
}

/// Codes given to characters in order of first use, as font subsetting does.
struct Subset {
    codes: BTreeMap<char, u16>,
    first: u16,
}

impl Subset {
    fn new(first: u16) -> Self {
        Self {
            codes: BTreeMap::new(),
            first,
        }
    }

    fn code(&mut self, c: char) -> u16 {
        let next = self.first + self.codes.len() as u16;
        *self.codes.entry(c).or_insert(next)
    }

    fn by_code(&self) -> Vec<(u16, char)> {
        let mut pairs: Vec<(u16, char)> = self.codes.iter().map(|(c, code)| (*code, *c)).collect();
        pairs.sort_unstable();
        pairs
    }
}

fn hex(bytes: Vec<u8>) -> Object {
    Object::String(bytes, StringFormat::Hexadecimal)
}

fn literal(bytes: Vec<u8>) -> Object {
    Object::String(bytes, StringFormat::Literal)
}

/// The content stream of one page and the characters it used.
fn content(page: &[Placed], fonts: Fonts, subset: &mut Subset) -> Vec<u8> {
    let mut objects: Vec<(String, Object, String)> = Vec::new();
    for piece in page {
        let shown = match fonts {
            Fonts::Standard => {
                let bytes = piece.text.chars().map(win_ansi);
                (literal(bytes.collect()), "Tj")
            }
            Fonts::TexSubset => {
                let mut parts = Vec::new();
                for (i, word) in piece.text.split(' ').filter(|w| !w.is_empty()).enumerate() {
                    if i > 0 {
                        parts.push(Object::Integer(-333));
                    }
                    let codes = word.chars().map(|c| subset.code(c) as u8).collect();
                    parts.push(hex(codes));
                }
                (Object::Array(parts), "TJ")
            }
            Fonts::CidToUnicode { .. } => {
                let codes = piece
                    .text
                    .chars()
                    .flat_map(|c| subset.code(c).to_be_bytes())
                    .collect();
                (hex(codes), "Tj")
            }
        };
        objects.push((
            format!(
                "BT\n/F1 {} Tf\n1 0 0 1 {:.1} {:.1} Tm\n",
                piece.size, piece.x, piece.y
            ),
            shown.0,
            format!(" {}\nET\n", shown.1),
        ));
    }
    let mut out = Vec::new();
    for (head, object, tail) in objects {
        out.extend(head.as_bytes());
        out.extend(serialise(&object));
        out.extend(tail.as_bytes());
    }
    out
}

/// A string or array operand as it is written in a content stream.
fn serialise(object: &Object) -> Vec<u8> {
    match object {
        Object::String(bytes, StringFormat::Hexadecimal) => {
            let mut out = b"<".to_vec();
            for byte in bytes {
                out.extend(format!("{byte:02X}").as_bytes());
            }
            out.push(b'>');
            out
        }
        Object::String(bytes, _) => {
            let mut out = b"(".to_vec();
            for &byte in bytes {
                if matches!(byte, b'(' | b')' | b'\\') {
                    out.push(b'\\');
                }
                out.push(byte);
            }
            out.push(b')');
            out
        }
        Object::Array(items) => {
            let mut out = b"[".to_vec();
            for item in items {
                out.extend(serialise(item));
                out.push(b' ');
            }
            out.push(b']');
            out
        }
        Object::Integer(n) => n.to_string().into_bytes(),
        _ => Vec::new(),
    }
}

fn name(text: &str) -> Object {
    Object::Name(text.as_bytes().to_vec())
}

fn descriptor(doc: &mut Document, font_name: &str) -> Object {
    let mut d = Dictionary::new();
    d.set("Type", name("FontDescriptor"));
    d.set("FontName", name(font_name));
    d.set("Flags", Object::Integer(32));
    d.set(
        "FontBBox",
        Object::Array(vec![0.into(), (-250).into(), 1000.into(), 900.into()]),
    );
    d.set("ItalicAngle", Object::Integer(0));
    d.set("Ascent", Object::Integer(900));
    d.set("Descent", Object::Integer(-250));
    d.set("CapHeight", Object::Integer(700));
    d.set("StemV", Object::Integer(80));
    Object::Reference(doc.add_object(d))
}

/// The font dictionary for the characters `subset` collected.
fn font(doc: &mut Document, fonts: Fonts, subset: &Subset) -> Dictionary {
    let mut font = Dictionary::new();
    font.set("Type", name("Font"));
    match fonts {
        Fonts::Standard => {
            font.set("Subtype", name("Type1"));
            font.set("BaseFont", name("Helvetica"));
            font.set("Encoding", name("WinAnsiEncoding"));
        }
        Fonts::TexSubset => {
            let font_name = "QKXWTZ+LMRoman10-Regular";
            let mut differences = vec![Object::Integer(i64::from(subset.first))];
            differences.extend(
                subset
                    .by_code()
                    .into_iter()
                    .map(|(_, c)| name(&glyph_name(c))),
            );
            let mut encoding = Dictionary::new();
            encoding.set("Type", name("Encoding"));
            encoding.set("Differences", Object::Array(differences));
            font.set("Subtype", name("Type1"));
            font.set("BaseFont", name(font_name));
            font.set("FirstChar", Object::Integer(0));
            font.set("LastChar", Object::Integer(255));
            font.set("Widths", Object::Array(vec![Object::Integer(500); 256]));
            font.set("Encoding", Object::Dictionary(encoding));
            font.set("FontDescriptor", descriptor(doc, font_name));
        }
        Fonts::CidToUnicode {
            dash_as_soft_hyphen,
        } => {
            let font_name = "BCDEEE+NotoSans-Regular";
            let mut cmap = String::from(
                "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
                 /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
                 /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
                 1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
            );
            for chunk in subset.by_code().chunks(100) {
                cmap.push_str(&format!("{} beginbfchar\n", chunk.len()));
                for &(code, c) in chunk {
                    let c = if dash_as_soft_hyphen && c == '\u{2013}' {
                        '\u{ad}'
                    } else {
                        c
                    };
                    let mut units = [0u16; 2];
                    let utf16: String = c
                        .encode_utf16(&mut units)
                        .iter()
                        .map(|u| format!("{u:04X}"))
                        .collect();
                    cmap.push_str(&format!("<{code:04X}> <{utf16}>\n"));
                }
                cmap.push_str("endbfchar\n");
            }
            cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
            let to_unicode = doc.add_object(Stream::new(Dictionary::new(), cmap.into_bytes()));
            let mut system = Dictionary::new();
            system.set("Registry", literal(b"Adobe".to_vec()));
            system.set("Ordering", literal(b"Identity".to_vec()));
            system.set("Supplement", Object::Integer(0));
            let mut cid = Dictionary::new();
            cid.set("Type", name("Font"));
            cid.set("Subtype", name("CIDFontType2"));
            cid.set("BaseFont", name(font_name));
            cid.set("CIDSystemInfo", Object::Dictionary(system));
            cid.set("FontDescriptor", descriptor(doc, font_name));
            cid.set("DW", Object::Integer(500));
            cid.set("CIDToGIDMap", name("Identity"));
            let cid = doc.add_object(cid);
            font.set("Subtype", name("Type0"));
            font.set("BaseFont", name(font_name));
            font.set("Encoding", name("Identity-H"));
            font.set(
                "DescendantFonts",
                Object::Array(vec![Object::Reference(cid)]),
            );
            font.set("ToUnicode", Object::Reference(to_unicode));
        }
    }
    font
}

/// A PDF of `pages` set in `fonts`.
/// A form's content stream and the y it is moved to on the page.
type FormContent = (Vec<u8>, f32);

/// A PDF of `pages` set in `fonts`; with `in_forms`, every four pieces of text are drawn
/// by a form XObject, placed by the page's `cm` or by the form's own `/Matrix` in turn
/// (as design programs group text).
pub fn write(pages: &[Vec<Placed>], fonts: Fonts, in_forms: bool) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut subset = Subset::new(if fonts == Fonts::TexSubset { 1 } else { 3 });
    let mut drawn: Vec<(Vec<u8>, Vec<FormContent>)> = Vec::new();
    for page in pages {
        if !in_forms {
            drawn.push((content(page, fonts, &mut subset), Vec::new()));
            continue;
        }
        let mut forms = Vec::new();
        for chunk in page.chunks(4) {
            let base = chunk.iter().map(|p| p.y).fold(f32::MAX, f32::min).floor();
            let moved: Vec<Placed> = chunk
                .iter()
                .map(|p| Placed {
                    y: p.y - base,
                    ..p.clone()
                })
                .collect();
            forms.push((content(&moved, fonts, &mut subset), base));
        }
        drawn.push((Vec::new(), forms));
    }
    let font = font(&mut doc, fonts, &subset);
    let font_id = doc.add_object(font);
    let mut font_names = Dictionary::new();
    font_names.set("F1", Object::Reference(font_id));
    let mut resources = Dictionary::new();
    resources.set("Font", Object::Dictionary(font_names.clone()));
    let resources_id = doc.add_object(resources);
    let mut kids = Vec::new();
    for (mut content, forms) in drawn {
        let mut page = Dictionary::new();
        if !forms.is_empty() {
            let mut xobjects = Dictionary::new();
            for (i, (form_content, base)) in forms.into_iter().enumerate() {
                let mut form = Dictionary::new();
                form.set("Type", name("XObject"));
                form.set("Subtype", name("Form"));
                form.set(
                    "BBox",
                    Object::Array(vec![0.into(), (-60).into(), 595.into(), 120.into()]),
                );
                form.set("Resources", Object::Reference(resources_id));
                let by_matrix = i % 2 == 1;
                if by_matrix {
                    form.set(
                        "Matrix",
                        Object::Array(vec![
                            1.into(),
                            0.into(),
                            0.into(),
                            1.into(),
                            0.into(),
                            Object::Real(base),
                        ]),
                    );
                }
                let mut stream = Stream::new(form, form_content);
                let _ = stream.compress();
                let form_name = format!("Fm{i}");
                xobjects.set(
                    form_name.as_bytes(),
                    Object::Reference(doc.add_object(stream)),
                );
                let placement = if by_matrix {
                    String::new()
                } else {
                    format!("1 0 0 1 0 {base} cm ")
                };
                content.extend(format!("q {placement}/{form_name} Do Q\n").as_bytes());
            }
            let mut own = Dictionary::new();
            own.set("Font", Object::Dictionary(font_names.clone()));
            own.set("XObject", Object::Dictionary(xobjects));
            page.set("Resources", Object::Dictionary(own));
        }
        let mut stream = Stream::new(Dictionary::new(), content);
        let _ = stream.compress();
        let content_id = doc.add_object(stream);
        page.set("Type", name("Page"));
        page.set("Parent", Object::Reference(pages_id));
        page.set("Contents", Object::Reference(content_id));
        kids.push(Object::Reference(doc.add_object(page)));
    }
    let mut tree = Dictionary::new();
    tree.set("Type", name("Pages"));
    tree.set("Count", Object::Integer(kids.len() as i64));
    tree.set("Kids", Object::Array(kids));
    tree.set("Resources", Object::Reference(resources_id));
    tree.set(
        "MediaBox",
        Object::Array(vec![0.into(), 0.into(), 595.into(), 842.into()]),
    );
    doc.objects.insert(pages_id, Object::Dictionary(tree));
    let mut catalog = Dictionary::new();
    catalog.set("Type", name("Catalog"));
    catalog.set("Pages", Object::Reference(pages_id));
    let catalog_id = doc.add_object(catalog);
    doc.trailer.set("Root", Object::Reference(catalog_id));
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("writing a PDF to memory");
    out
}
