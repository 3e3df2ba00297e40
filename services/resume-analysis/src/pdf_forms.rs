//! Form XObjects drawn by a page, inlined into its content before extraction.
//!
//! pdf-extract draws a form's text with a fresh graphics state: the page's current
//! transformation and the form's own `/Matrix` are lost, so the text lands where the
//! form's coordinates say on an empty page (often the bottom-left corner). Read in drawing
//! order that went unnoticed; laid out by position (`pdf_layout`) it would put the text
//! in the wrong place. A form is inlined as `q [Matrix cm] …its operators… Q`, the way a
//! viewer draws it, and the fonts, images, graphics states and forms it names are added
//! to the page's resources. A form whose names clash with different objects on the page
//! is left as it is.

use pdf_extract::content::{Content, Operation};
use pdf_extract::{Dictionary, Document, Object, ObjectId};

/// Nesting levels inlined (a form drawing a form drawing a form).
const MAX_ROUNDS: usize = 3;
/// Operators a page may grow to by inlining; past that, forms stay as they are.
const MAX_OPERATIONS: usize = 200_000;
/// Forms inlined into one page; past that, forms stay as they are (each is decoded when
/// inlined: a page drawing one large form many times must not cost that many decodings).
const MAX_FORMS: usize = 500;
/// Resource kinds a form's operators name.
const KINDS: [&[u8]; 4] = [b"Font", b"XObject", b"ExtGState", b"ColorSpace"];

fn resolve<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    doc.dereference(object).ok().map(|(_, object)| object)
}

fn dict<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Dictionary> {
    resolve(doc, object).and_then(|o| o.as_dict().ok())
}

/// The page's resources, inherited from the page tree when the page has none.
fn page_resources(doc: &Document, page: ObjectId) -> Dictionary {
    let mut node = doc.get_dictionary(page).ok();
    for _ in 0..64 {
        let Some(current) = node else { break };
        if let Some(resources) = current.get(b"Resources").ok().and_then(|r| dict(doc, r)) {
            return resources.clone();
        }
        node = current
            .get(b"Parent")
            .and_then(Object::as_reference)
            .ok()
            .and_then(|id| doc.get_dictionary(id).ok());
    }
    Dictionary::new()
}

/// `resources` with every kind's dictionary made direct (a copy).
fn direct(doc: &Document, resources: &Dictionary) -> Dictionary {
    let mut out = resources.clone();
    for kind in KINDS {
        if let Some(entries) = resources.get(kind).ok().and_then(|e| dict(doc, e)) {
            out.set(kind, Object::Dictionary(entries.clone()));
        }
    }
    out
}

/// Adds the form's resources to `page`; false (and `page` unchanged) on a clash.
fn merge(page: &mut Dictionary, form: &Dictionary) -> bool {
    let mut merged = page.clone();
    for kind in KINDS {
        let Ok(Object::Dictionary(entries)) = form.get(kind) else {
            continue;
        };
        let mut target = match merged.get(kind) {
            Ok(Object::Dictionary(existing)) => existing.clone(),
            _ => Dictionary::new(),
        };
        for (name, object) in entries.iter() {
            match target.get(name) {
                Ok(existing) if existing != object => return false,
                Ok(_) => {}
                Err(_) => target.set(name.clone(), object.clone()),
            }
        }
        merged.set(kind, Object::Dictionary(target));
    }
    *page = merged;
    true
}

/// A form named by `Do`, with its operators and direct resources.
struct Form {
    matrix: Option<Vec<Object>>,
    operations: Vec<Operation>,
    resources: Option<Dictionary>,
}

fn form(doc: &Document, resources: &Dictionary, name: &[u8]) -> Option<Form> {
    let xobjects = resources.get(b"XObject").ok().and_then(|x| dict(doc, x))?;
    let stream = resolve(doc, xobjects.get(name).ok()?)?.as_stream().ok()?;
    if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form".as_slice()) {
        return None;
    }
    let content = stream
        .decompressed_content()
        .unwrap_or_else(|_| stream.content.clone());
    let operations = Content::decode(&content).ok()?.operations;
    let matrix = stream
        .dict
        .get(b"Matrix")
        .ok()
        .and_then(|m| resolve(doc, m))
        .and_then(|m| m.as_array().ok())
        .filter(|m| m.len() == 6)
        .cloned();
    let resources = stream
        .dict
        .get(b"Resources")
        .ok()
        .and_then(|r| dict(doc, r))
        .map(|r| direct(doc, r));
    Some(Form {
        matrix,
        operations,
        resources,
    })
}

/// One round: every `Do` of a form replaced by the form's operators.
fn inline_once(
    doc: &Document,
    operations: Vec<Operation>,
    resources: &mut Dictionary,
    inlined_so_far: &mut usize,
) -> (Vec<Operation>, bool) {
    let mut out = Vec::with_capacity(operations.len());
    let mut changed = false;
    for op in operations {
        let name = (op.operator == "Do" && *inlined_so_far < MAX_FORMS)
            .then(|| op.operands.first().and_then(|n| n.as_name().ok()))
            .flatten()
            .map(<[u8]>::to_vec);
        let inlined = name
            .and_then(|name| form(doc, resources, &name))
            .filter(|form| {
                out.len() + form.operations.len() < MAX_OPERATIONS
                    && form.resources.as_ref().is_none_or(|r| merge(resources, r))
            });
        match inlined {
            Some(form) => {
                out.push(Operation::new("q", Vec::new()));
                if let Some(matrix) = form.matrix {
                    out.push(Operation::new("cm", matrix));
                }
                out.extend(form.operations);
                out.push(Operation::new("Q", Vec::new()));
                changed = true;
                *inlined_so_far += 1;
            }
            None => out.push(op),
        }
    }
    (out, changed)
}

/// Inlines the forms every page draws (see the module documentation).
pub fn inline_forms(document: &mut Document) {
    for page in document.get_pages().into_values() {
        let Ok(raw) = document.get_page_content(page) else {
            continue;
        };
        if !raw.windows(2).any(|w| w == b"Do") {
            continue;
        }
        let Ok(content) = Content::decode(&raw) else {
            continue;
        };
        let mut resources = direct(document, &page_resources(document, page));
        let mut operations = content.operations;
        let mut any = false;
        let mut inlined = 0;
        for _ in 0..MAX_ROUNDS {
            let (next, changed) = inline_once(document, operations, &mut resources, &mut inlined);
            operations = next;
            any |= changed;
            if !changed {
                break;
            }
        }
        if !any {
            continue;
        }
        let Ok(bytes) = (Content { operations }).encode() else {
            continue;
        };
        if document.change_page_content(page, bytes).is_ok()
            && let Ok(dictionary) = document.get_dictionary_mut(page)
        {
            dictionary.set("Resources", Object::Dictionary(resources));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clashing_names_are_not_merged() {
        let mut page = Dictionary::new();
        let mut fonts = Dictionary::new();
        fonts.set("F1", Object::Reference((1, 0)));
        page.set("Font", Object::Dictionary(fonts.clone()));
        let mut same = Dictionary::new();
        same.set("Font", Object::Dictionary(fonts));
        assert!(merge(&mut page, &same));
        let mut other = Dictionary::new();
        let mut other_fonts = Dictionary::new();
        other_fonts.set("F1", Object::Reference((2, 0)));
        other_fonts.set("F2", Object::Reference((3, 0)));
        other.set("Font", Object::Dictionary(other_fonts));
        let before = page.clone();
        assert!(!merge(&mut page, &other));
        assert_eq!(page, before);
        let mut new_only = Dictionary::new();
        let mut new_fonts = Dictionary::new();
        new_fonts.set("F9", Object::Reference((9, 0)));
        new_only.set("Font", Object::Dictionary(new_fonts));
        assert!(merge(&mut page, &new_only));
        let fonts = page.get(b"Font").unwrap().as_dict().unwrap();
        assert!(fonts.get(b"F1").is_ok() && fonts.get(b"F9").is_ok());
    }
}
