//! Small XML helpers shared by the SAML files: namespaces, element lookup by expanded name,
//! full-text reading, escaping, and the pre-parse DOCTYPE refusal.

use roxmltree::{Document, Node, ParsingOptions};

pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// True when the document declares anything with `<!` other than a comment or a CDATA
/// section: a DOCTYPE, and with it every internal or external entity. Checked on the raw text,
/// before any parser (roxmltree or libxml) sees it.
pub fn has_markup_declaration(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find("<!") {
        let at = from + pos;
        let rest = &bytes[at + 2..];
        if !(rest.starts_with(b"--") || rest.starts_with(b"[CDATA[")) {
            return true;
        }
        from = at + 2;
    }
    false
}

/// roxmltree with DTDs refused (its default, stated here so it stays that way).
pub fn parse(text: &str) -> Result<Document<'_>, roxmltree::Error> {
    Document::parse_with_options(
        text,
        ParsingOptions {
            allow_dtd: false,
            ..ParsingOptions::default()
        },
    )
}

pub fn is(node: Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace() == Some(ns)
}

pub fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'a str,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children().filter(move |c| is(*c, ns, name))
}

pub fn child<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'a str,
    name: &'a str,
) -> Option<Node<'a, 'input>> {
    children(node, ns, name).next()
}

pub fn descendants<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'a str,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.descendants().filter(move |c| is(*c, ns, name))
}

/// The element's full text: every text descendant joined, so a comment (or a child element)
/// cannot split a value and make a reader see only its first part.
pub fn full_text(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(Node::is_text)
        .filter_map(|n| n.text())
        .collect()
}

/// `full_text`, trimmed (SAML values carry no meaningful surrounding whitespace).
pub fn value(node: Node<'_, '_>) -> String {
    full_text(node).trim().to_owned()
}

/// Escapes text for an attribute value or element content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_found_but_comments_and_cdata_are_not() {
        assert!(has_markup_declaration(
            "<?xml version=\"1.0\"?><!DOCTYPE r><r/>"
        ));
        assert!(has_markup_declaration("<r/><!ENTITY x \"y\">"));
        assert!(!has_markup_declaration(
            "<r><!-- c --><![CDATA[x < y]]></r>"
        ));
        assert!(!has_markup_declaration("<r>a &lt;!DOCTYPE</r>"));
    }

    #[test]
    fn full_text_reads_across_comments() {
        let doc = parse("<n>admin@x<!---->.evil.com</n>").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(full_text(doc.root_element()), "admin@x.evil.com");
    }
}
