//! The SAML Response verifier (`federation::saml::verify_response`) against any input: it
//! never panics; nothing unsigned, or signed by a key that is not configured, is accepted;
//! and a correctly signed Response changed in any way is refused, or (a change the
//! signature does not cover, such as whitespace in the unsigned envelope) still reads
//! exactly as the original. A change to a signed value, or a second assertion wrapped in
//! anywhere (XSW), is always refused.
//!
//! The signed Responses are Gatehouse's own IdP's (`cloud::idp::sign`: exclusive c14n,
//! RSA-SHA256), with the Assertion signed, made once per run.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use gatehouse::cloud::idp::{self, AssertionFor};
use gatehouse::federation::saml::{
    verify_response, Expectations, IdpSettings, Refusal, SpSettings, VerifiedAssertion,
};
use gatehouse::secrets::MasterKey;
use proptest::prelude::*;
use time::{Duration, OffsetDateTime};

use crate::config;

const IDP: &str = "https://gatehouse.fuzz.example/saml/idp/metadata.xml";
const ACS: &str = "https://sp.fuzz.example/saml/acs";
const AUDIENCE: &str = "https://sp.fuzz.example/saml/metadata";
/// 2026-12-01T00:00:00Z, in milliseconds.
const NOW_MS: i64 = 1_796_083_200_000;

struct Fixture {
    trusted_certificate: String,
    /// The original Response, signed by the trusted key.
    xml: String,
    /// What the original reads as.
    verified: VerifiedAssertion,
    /// The same assertion content, signed by a key the SP does not trust, whose certificate
    /// it carries in KeyInfo.
    attacker_xml: String,
}

fn key() -> (openssl::pkey::PKey<openssl::pkey::Private>, String) {
    let master = MasterKey::generate();
    let record = idp::generate_key(&master, "active", NOW_MS).unwrap();
    let der = master.open(idp::PURPOSE, &record.private_key).unwrap();
    (
        openssl::pkey::PKey::private_key_from_pkcs8(&der).unwrap(),
        record.certificate,
    )
}

fn sign(key: &openssl::pkey::PKey<openssl::pkey::Private>, certificate: &str) -> String {
    let attributes = [
        ("email", vec!["alice@example.com".to_owned()]),
        (
            "groups",
            vec!["engineers".to_owned(), "approvers & <friends>".to_owned()],
        ),
    ];
    let assertion = AssertionFor {
        issuer: IDP,
        recipient: ACS,
        audience: AUDIENCE,
        session_name: "alice@example.com",
        attributes: &attributes,
        now: NOW_MS,
        lifetime_ms: 300_000,
    };
    idp::sign(&assertion, key, certificate).unwrap().0
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (trusted, trusted_certificate) = key();
        let (attacker, attacker_certificate) = key();
        let xml = sign(&trusted, &trusted_certificate);
        let attacker_xml = sign(&attacker, &attacker_certificate);
        let verified = verify(&trusted_certificate, &xml).expect("the original must verify");
        Fixture {
            trusted_certificate,
            xml,
            verified,
            attacker_xml,
        }
    })
}

fn verify_b64(certificate: &str, b64: &str) -> Result<VerifiedAssertion, Refusal> {
    let sp = SpSettings {
        entity_id: AUDIENCE.to_owned(),
        acs_url: ACS.to_owned(),
    };
    let idp = IdpSettings {
        entity_id: IDP.to_owned(),
        sso_url: "https://gatehouse.fuzz.example/saml/idp/sso".to_owned(),
        certificates: vec![certificate.to_owned()],
        allow_sha1: false,
    };
    let expect = Expectations {
        outstanding_request_ids: &[],
        allow_unsolicited: true,
        clock_skew: Duration::seconds(60),
        now: OffsetDateTime::from_unix_timestamp(NOW_MS / 1000).unwrap(),
        max_bytes: 256 * 1024,
    };
    verify_response(b64, &sp, &idp, &expect)
}

fn verify(certificate: &str, xml: &str) -> Result<VerifiedAssertion, Refusal> {
    verify_b64(certificate, &STANDARD.encode(xml))
}

/// Checks that a changed document is refused or reads exactly as the original.
fn refused_or_unchanged(xml: &str) -> Result<(), TestCaseError> {
    let f = fixture();
    if let Ok(v) = verify(&f.trusted_certificate, xml) {
        prop_assert_eq!(
            &v,
            &f.verified,
            "a changed Response read differently:\n{}",
            xml
        );
    }
    Ok(())
}

/// Text as element content, escaped so that it parses back to exactly `s`.
fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\r', "&#xD;")
}

/// Text as an attribute value in double quotes, escaped the same way.
fn escape_attribute(s: &str) -> String {
    escape_text(s)
        .replace('"', "&quot;")
        .replace('\t', "&#x9;")
        .replace('\n', "&#xA;")
}

/// The signed Assertion's bytes: from its start tag to its end tag (the whole document once
/// edits have broken either).
fn assertion_range(xml: &str) -> std::ops::Range<usize> {
    let start = xml.find("<saml:Assertion");
    let end = xml
        .rfind("</saml:Assertion>")
        .map(|e| e + "</saml:Assertion>".len());
    match (start, end) {
        (Some(start), Some(end)) if start < end => start..end,
        _ => 0..xml.len(),
    }
}

/// What a change inside the Assertion can target: (text before, text after) around a value.
const SIGNED_VALUES: &[(&str, &str)] = &[
    (
        "<saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">",
        "</saml:NameID>",
    ),
    ("<saml:Issuer>", "</saml:Issuer>"),
    ("<saml:Audience>", "</saml:Audience>"),
    ("<saml:AttributeValue>", "</saml:AttributeValue>"),
    ("<saml:Attribute Name=\"", "\">"),
    ("Recipient=\"", "\""),
    ("NotOnOrAfter=\"", "\""),
    ("NotBefore=\"", "\""),
    ("SessionIndex=\"", "\""),
    ("Format=\"", "\""),
    ("Method=\"", "\""),
    (
        "<saml:AuthnContextClassRef>",
        "</saml:AuthnContextClassRef>",
    ),
];

/// Replaces the value between `open` and `close` (its first occurrence inside the
/// Assertion, after the Signature for the Issuer's second one) with `new`.
fn replace_signed_value(xml: &str, which: usize, new: &str) -> Option<String> {
    let (open, close) = SIGNED_VALUES[which % SIGNED_VALUES.len()];
    let range = assertion_range(xml);
    let from = range.start + xml[range.clone()].find(open)? + open.len();
    let to = from + xml[from..].find(close)?;
    let old = &xml[from..to];
    let is_attribute = open.ends_with('"');
    let written = if is_attribute {
        escape_attribute(new)
    } else {
        escape_text(new)
    };
    // The same value written the same way is no change.
    (written != old && new != old).then(|| format!("{}{written}{}", &xml[..from], &xml[to..]))
}

/// XML fragments to splice in: markup that shifts meaning when a verifier is careless.
const FRAGMENTS: &[&str] = &[
    "<!---->",
    "<!-- x -->",
    " ",
    "\n",
    "<![CDATA[x]]>",
    "&amp;",
    "&#97;",
    "<saml:NameID>admin@example.com</saml:NameID>",
    "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_evil\"/>",
    "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/>",
    " ID=\"_dup\"",
    " xml:id=\"_x\"",
    "<!DOCTYPE x>",
    "<?pi x?>",
    "<x:y xmlns:x=\"urn:x\">",
    "</saml:Subject>",
    "\"",
    "<",
    ">",
    "\u{0}",
    "é",
];

fn edit(xml: &str, at: usize, kind: u8, fragment: &str, len: usize) -> String {
    let mut at = at % (xml.len() + 1);
    while !xml.is_char_boundary(at) {
        at -= 1;
    }
    let mut end = (at + 1 + len % 16).min(xml.len());
    while !xml.is_char_boundary(end) {
        end -= 1;
    }
    match kind % 3 {
        0 => format!("{}{}", &xml[..at], &xml[end..]),
        1 => format!("{}{fragment}{}", &xml[..at], &xml[at..]),
        _ => format!("{}{fragment}{}", &xml[..at], &xml[end..]),
    }
}

/// The original Response with a second assertion in one of the places wrapping attacks use:
/// a copy saying someone else, signature kept or not, ID kept or not.
fn wrapped(xml: &str, place: u8, keep_signature: bool, keep_id: bool) -> String {
    let range = assertion_range(xml);
    let original = &xml[range.clone()];
    let mut evil = original.replace(
        ">alice@example.com</saml:NameID>",
        ">admin@example.com</saml:NameID>",
    );
    if !keep_signature {
        if let (Some(s), Some(e)) = (evil.find("<ds:Signature"), evil.find("</ds:Signature>")) {
            evil.replace_range(s..e + "</ds:Signature>".len(), "");
        }
    }
    if !keep_id {
        evil = evil.replacen(" ID=\"_", " ID=\"_evil", 1);
    }
    let (before, after) = (&xml[..range.start], &xml[range.end..]);
    let subject = original.find("<saml:Subject>").unwrap();
    let signature_end = original.find("</ds:Signature>").unwrap();
    match place % 8 {
        // Siblings.
        0 => format!("{before}{evil}{original}{after}"),
        1 => format!("{before}{original}{evil}{after}"),
        // In an Extensions element of the Response.
        2 => {
            let status = xml.find("<samlp:Status>").unwrap();
            format!(
                "{}<samlp:Extensions>{evil}</samlp:Extensions>{}",
                &xml[..status],
                &xml[status..]
            )
        }
        // Inside the signed assertion: in Advice, in the Subject, in a ds:Object.
        3 => format!(
            "{before}{}<saml:Advice>{evil}</saml:Advice>{}{after}",
            &original[..subject],
            &original[subject..]
        ),
        4 => format!(
            "{before}{}{evil}{}{after}",
            &original[..subject + "<saml:Subject>".len()],
            &original[subject + "<saml:Subject>".len()..]
        ),
        5 => format!(
            "{before}{}<ds:Object xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">{evil}</ds:Object>{}{after}",
            &original[..signature_end],
            &original[signature_end..]
        ),
        // The evil assertion outside, the original inside its Advice.
        6 => {
            let evil_subject = evil.find("<saml:Subject>").unwrap_or(0);
            format!(
                "{before}{}<saml:Advice>{original}</saml:Advice>{}{after}",
                &evil[..evil_subject],
                &evil[evil_subject..]
            )
        }
        // The evil assertion alone, its signature copied from the original.
        _ => format!("{before}{evil}{after}"),
    }
}

/// Token soup of SAML's own markup.
const TOKENS: &[&str] = &[
    "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_r\" Destination=\"https://sp.fuzz.example/saml/acs\">",
    "</samlp:Response>",
    "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>",
    "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_a\">",
    "</saml:Assertion>",
    "<saml:Issuer>https://gatehouse.fuzz.example/saml/idp/metadata.xml</saml:Issuer>",
    "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/><ds:Reference URI=\"#_a\"><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>",
    "<saml:Subject><saml:NameID>admin</saml:NameID><saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"><saml:SubjectConfirmationData NotOnOrAfter=\"2030-01-01T00:00:00Z\" Recipient=\"https://sp.fuzz.example/saml/acs\"/></saml:SubjectConfirmation></saml:Subject>",
    "<saml:Conditions><saml:AudienceRestriction><saml:Audience>https://sp.fuzz.example/saml/metadata</saml:Audience></saml:AudienceRestriction></saml:Conditions>",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    "<!DOCTYPE r [<!ENTITY e \"x\">]>",
    "&e;",
    "<!---->",
    "\u{feff}",
    " ",
    "<",
    "/>",
    "\"",
];

proptest! {
    #![proptest_config(config(2_000))]

    /// Any bytes, base64-encoded, and any text as the form field: refused, never a panic.
    #[test]
    fn any_input_is_refused(bytes in proptest::collection::vec(any::<u8>(), 0..512), text in any::<String>()) {
        let f = fixture();
        prop_assert!(verify_b64(&f.trusted_certificate, &STANDARD.encode(&bytes)).is_err());
        prop_assert!(verify_b64(&f.trusted_certificate, &text).is_err());
    }

    /// Documents made of SAML's own markup, in any order: refused, never a panic.
    #[test]
    fn saml_token_soup_is_refused(tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 0..24)) {
        let f = fixture();
        prop_assert!(verify(&f.trusted_certificate, &tokens.concat()).is_err());
    }

    /// The signed Response with bytes deleted, inserted or replaced anywhere: refused, or
    /// read exactly as the original.
    #[test]
    fn edited_responses_are_refused_or_read_the_same(
        edits in proptest::collection::vec(
            (any::<usize>(), any::<u8>(), proptest::sample::select(FRAGMENTS), any::<usize>()),
            1..4,
        ),
        in_assertion in any::<bool>(),
    ) {
        let f = fixture();
        let mut xml = f.xml.clone();
        for (at, kind, fragment, len) in edits {
            // Half the edits land inside the signed Assertion, where they matter most.
            let at = if in_assertion {
                let range = assertion_range(&xml);
                range.start + at % (range.end - range.start).max(1)
            } else {
                at
            };
            xml = edit(&xml, at, kind, fragment, len);
        }
        refused_or_unchanged(&xml)?;
    }

    /// Any signed value changed to anything else: always refused.
    #[test]
    fn changed_signed_values_are_refused(
        which in any::<usize>(),
        new in prop_oneof![
            proptest::sample::select(&["admin@example.com", "alice@example.com ", " alice@example.com", "ALICE@example.com", "2099-01-01T00:00:00Z", "https://evil.example/acs", ""][..]).prop_map(str::to_owned),
            any::<String>(),
        ],
    ) {
        let f = fixture();
        if let Some(xml) = replace_signed_value(&f.xml, which, &new) {
            let result = verify(&f.trusted_certificate, &xml);
            prop_assert!(result.is_err(), "a changed signed value was accepted: {:?}\n{}", result, xml);
        }
    }

    /// A second assertion wrapped in anywhere: always refused.
    #[test]
    fn wrapped_assertions_are_refused(place in any::<u8>(), keep_signature in any::<bool>(), keep_id in any::<bool>()) {
        let f = fixture();
        let xml = wrapped(&f.xml, place, keep_signature, keep_id);
        let result = verify(&f.trusted_certificate, &xml);
        prop_assert!(result.is_err(), "a wrapped assertion was accepted: {:?}\n{}", result, xml);
    }
}

/// Signed by a key the SP does not trust (carried in KeyInfo): refused as untrusted.
#[test]
fn a_response_signed_by_another_key_is_refused() {
    let f = fixture();
    assert_eq!(
        verify(&f.trusted_certificate, &f.attacker_xml),
        Err(Refusal::UntrustedKey)
    );
    // With the attacker's certificate swapped for the trusted one in KeyInfo: still refused.
    let attacker_certificate = f
        .attacker_xml
        .split("<ds:X509Certificate>")
        .nth(1)
        .and_then(|s| s.split("</ds:X509Certificate>").next())
        .unwrap();
    let swapped = f
        .attacker_xml
        .replace(attacker_certificate, &f.trusted_certificate);
    assert_eq!(
        verify(&f.trusted_certificate, &swapped),
        Err(Refusal::SignatureInvalid)
    );
}

/// The generators' anchors are where they should be: each signed value is found and
/// replaced, and the original verifies.
#[test]
fn every_signed_value_can_be_changed() {
    let f = fixture();
    assert_eq!(f.verified.name_id, "alice@example.com");
    for which in 0..SIGNED_VALUES.len() {
        let xml = replace_signed_value(&f.xml, which, "zzz").unwrap();
        assert!(verify(&f.trusted_certificate, &xml).is_err(), "{which}");
    }
}
