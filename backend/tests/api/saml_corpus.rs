//! The SAML SP core against a real IdP (pysaml2 + xmlsec1, `e2e/saml/idp.py`): valid responses
//! in every signing shape verify with the right values; every case of the negative corpus is
//! refused with its own reason code; metadata and the AuthnRequest work with that IdP.
#![expect(
    clippy::disallowed_methods,
    reason = "the external IdP stamps its responses with the real time, so they are checked against it"
)]

use std::collections::BTreeMap;
use std::io::Read as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use gatehouse::federation::saml::{
    authn_request, parse_idp_metadata, sp_metadata, verify_response, Expectations, IdpSettings,
    Refusal, VerifiedAssertion,
};
use time::{Duration, OffsetDateTime};

use crate::saml_support::{self as idp, Mint, ACS_URL, IDP_ENTITY_ID, MFA_CONTEXT, SP_ENTITY_ID};

const OUTSTANDING: &[&str] = &["_request-0", "_request-1"];

fn expect(now: OffsetDateTime) -> (Vec<String>, OffsetDateTime) {
    (OUTSTANDING.iter().map(|s| (*s).to_owned()).collect(), now)
}

fn verify_with(
    b64: &str,
    settings: &IdpSettings,
    allow_unsolicited: bool,
) -> Result<VerifiedAssertion, Refusal> {
    let (outstanding, now) = expect(OffsetDateTime::now_utc());
    verify_response(
        b64,
        &idp::sp(),
        settings,
        &Expectations {
            outstanding_request_ids: &outstanding,
            allow_unsolicited,
            clock_skew: Duration::seconds(60),
            now,
            max_bytes: 256 * 1024,
        },
    )
}

fn verify(b64: &str) -> Result<VerifiedAssertion, Refusal> {
    verify_with(b64, &idp::idp(), false)
}

fn assert_alice(v: &VerifiedAssertion) {
    assert_eq!(v.name_id, "alice@example.com");
    assert_eq!(v.in_response_to.as_deref(), Some("_request-1"));
    assert_eq!(v.authn_context_class_ref.as_deref(), Some(MFA_CONTEXT));
    assert_eq!(v.attributes["email"], ["alice@example.com"]);
    assert_eq!(v.attributes["displayName"], ["Alice Example"]);
    assert_eq!(v.attributes["groups"], ["engineers", "approvers"]);
    assert!(v.session_index.is_some());
    let now = OffsetDateTime::now_utc();
    assert!(v.not_on_or_after > now && v.not_on_or_after < now + Duration::minutes(10));
}

#[test]
fn saml_valid_responses_verify_in_every_signing_shape() {
    for sign in ["response", "assertion", "both"] {
        let minted = idp::mint(&Mint {
            sign,
            ..Mint::default()
        });
        let v = verify(&minted.b64).unwrap_or_else(|r| panic!("{sign}-signed refused: {r}"));
        assert_alice(&v);
        assert_eq!(Some(v.assertion_id.clone()), minted.assertion_id, "{sign}");
    }
}

fn run_corpus(sign: &str) {
    let valid = idp::mint(&Mint {
        sign,
        ..Mint::default()
    });
    let mut cases = idp::corpus(&Mint {
        sign,
        ..Mint::default()
    });
    assert!(cases.len() >= 35, "corpus too small: {}", cases.len());
    for name in [
        "xsw1", "xsw2", "xsw3", "xsw4", "xsw5", "xsw6", "xsw7", "xsw8",
    ] {
        assert!(cases.iter().any(|c| c.name == name), "{name} missing");
    }
    let mut failures = Vec::new();
    for case in &cases {
        let got = verify(&case.b64);
        let ok = match (case.code.strip_prefix("ok:"), &got) {
            (Some(name_id), Ok(v)) => v.name_id == name_id,
            (None, Err(refusal)) => refusal.code() == case.code,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{}: expected {}, got {:?}",
                case.name,
                case.code,
                got.map(|v| v.name_id)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{sign}-signed corpus:\n{}",
        failures.join("\n")
    );

    // The replay case: the core accepts it twice with the same assertion ID (it is pure);
    // the ACS's assertion-ID table is what refuses the second with `saml_replayed`.
    cases.push(idp::replay_case(&valid.b64));
    let first = verify(&valid.b64).unwrap();
    let second = verify(&cases.last().unwrap().b64).unwrap();
    assert_eq!(first.assertion_id, second.assertion_id);
    assert_eq!(Refusal::Replayed.code(), "saml_replayed");
}

#[test]
fn saml_corpus_response_signed_each_case_refused_with_its_own_code() {
    run_corpus("response");
}

#[test]
fn saml_corpus_assertion_signed_each_case_refused_with_its_own_code() {
    run_corpus("assertion");
}

#[test]
fn saml_configuration_rules() {
    let minted = idp::mint(&Mint::default());
    // No certificate configured: refused whatever the document.
    let mut none = idp::idp();
    none.certificates.clear();
    assert_eq!(
        verify_with(&minted.b64, &none, false),
        Err(Refusal::NoCertificateConfigured)
    );
    none.certificates = vec!["not a certificate".into()];
    assert_eq!(
        verify_with(&minted.b64, &none, false),
        Err(Refusal::NoCertificateConfigured)
    );
    // Rollover: the old and the new certificate configured, either order, PEM accepted.
    let mut rollover = idp::idp();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        idp::keys().cert
    );
    rollover.certificates = vec![idp::keys().other_cert.clone(), pem];
    assert_alice(&verify_with(&minted.b64, &rollover, false).unwrap());
    // Only the other (unconfigured) certificate: the IdP's real signature is not trusted.
    let mut wrong = idp::idp();
    wrong.certificates = vec![idp::keys().other_cert.clone()];
    assert_eq!(
        verify_with(&minted.b64, &wrong, false),
        Err(Refusal::UntrustedKey)
    );
    // Another IdP's entity ID configured: issuer refused.
    let mut other = idp::idp();
    other.entity_id = "https://other-idp.example/".into();
    assert_eq!(
        verify_with(&minted.b64, &other, false),
        Err(Refusal::IssuerMismatch)
    );
}

#[test]
fn saml_sha1_only_when_allowed_and_unsolicited_only_when_allowed() {
    let sha1 = idp::mint(&Mint {
        sign_alg: "sha1",
        ..Mint::default()
    });
    assert!(matches!(
        verify(&sha1.b64),
        Err(Refusal::AlgorithmForbidden(_))
    ));
    let mut allow = idp::idp();
    allow.allow_sha1 = true;
    assert_alice(&verify_with(&sha1.b64, &allow, false).unwrap());

    let unsolicited = idp::mint(&Mint {
        in_response_to: None,
        ..Mint::default()
    });
    assert_eq!(verify(&unsolicited.b64), Err(Refusal::Unsolicited));
    let v = verify_with(&unsolicited.b64, &idp::idp(), true).unwrap();
    assert_eq!(v.in_response_to, None);
    assert_eq!(v.name_id, "alice@example.com");
}

#[test]
fn saml_time_window_and_skew() {
    let minted = idp::mint(&Mint::default());
    let v = verify(&minted.b64).unwrap();
    let check = |now: OffsetDateTime| {
        let (outstanding, now) = expect(now);
        verify_response(
            &minted.b64,
            &idp::sp(),
            &idp::idp(),
            &Expectations {
                outstanding_request_ids: &outstanding,
                allow_unsolicited: false,
                clock_skew: Duration::seconds(60),
                now,
                max_bytes: 256 * 1024,
            },
        )
    };
    // Within the skew after NotOnOrAfter: accepted; past it: expired.
    assert!(check(v.not_on_or_after + Duration::seconds(30)).is_ok());
    assert_eq!(
        check(v.not_on_or_after + Duration::seconds(61)),
        Err(Refusal::Expired)
    );
    // Before NotBefore (the issue instant) by more than the skew: not yet valid.
    assert_eq!(
        check(OffsetDateTime::now_utc() - Duration::minutes(5)),
        Err(Refusal::NotYetValid)
    );
    // A tight size limit refuses before parsing.
    let (outstanding, now) = expect(OffsetDateTime::now_utc());
    let small = Expectations {
        outstanding_request_ids: &outstanding,
        allow_unsolicited: false,
        clock_skew: Duration::seconds(60),
        now,
        max_bytes: 1024,
    };
    assert_eq!(
        verify_response(&minted.b64, &idp::sp(), &idp::idp(), &small),
        Err(Refusal::TooLarge)
    );
}

#[test]
fn saml_no_input_panics() {
    let minted = idp::mint(&Mint::default());
    let xml = minted.xml.as_bytes();
    // Every prefix length step, and single-byte corruptions: refused, never a panic.
    for cut in (0..xml.len()).step_by(53) {
        let b64 = STANDARD.encode(&xml[..cut]);
        assert!(verify(&b64).is_err(), "prefix {cut} verified");
    }
    for at in (0..xml.len()).step_by(97) {
        let mut bytes = xml.to_vec();
        bytes[at] ^= 0x20;
        let _ = verify(&STANDARD.encode(&bytes));
    }
    for junk in ["", " ", "====", "PD94bWw=", "\u{0}", "%%%"] {
        assert!(verify(junk).is_err());
    }
}

#[test]
fn saml_idp_metadata_imports_and_sp_metadata_is_valid() {
    let meta = parse_idp_metadata(&idp::idp_metadata("https://idp.test.example/sso")).unwrap();
    assert_eq!(meta.entity_id, IDP_ENTITY_ID);
    assert_eq!(meta.sso_url, "https://idp.test.example/sso");
    assert_eq!(meta.certificates, [idp::keys().cert.clone()]);

    for (bad, why) in [
        ("<x/>", "not SAML metadata"),
        ("<!DOCTYPE x><x/>", "DOCTYPE"),
        ("not xml", "not well-formed"),
        (
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="e"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
            "no signing certificate",
        ),
    ] {
        let err = parse_idp_metadata(bad).unwrap_err();
        assert!(err.0.contains(why), "{bad}: {err}");
    }

    let sp = sp_metadata(&idp::sp());
    let doc = roxmltree::Document::parse(&sp).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "EntityDescriptor");
    assert_eq!(root.attribute("entityID"), Some(SP_ENTITY_ID));
    let descriptor = root.first_element_child().unwrap();
    assert_eq!(descriptor.attribute("AuthnRequestsSigned"), Some("false"));
    assert_eq!(descriptor.attribute("WantAssertionsSigned"), Some("true"));
    let acs = descriptor
        .children()
        .find(|n| n.tag_name().name() == "AssertionConsumerService")
        .unwrap();
    assert_eq!(acs.attribute("Location"), Some(ACS_URL));
    assert_eq!(
        acs.attribute("Binding"),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
}

#[test]
fn saml_authn_request_is_a_well_formed_redirect() {
    let now = OffsetDateTime::now_utc();
    let req = authn_request(&idp::sp(), &idp::idp(), Some("/portal?x=1&y=2"), now);
    assert!(req.id.starts_with('_') && req.id.len() > 30);
    let url = reqwest::Url::parse(&req.redirect_url).unwrap();
    assert_eq!(url.path(), "/sso");
    let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["RelayState"], "/portal?x=1&y=2");
    let deflated = STANDARD.decode(&query["SAMLRequest"]).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "AuthnRequest");
    assert_eq!(root.attribute("ID"), Some(req.id.as_str()));
    assert_eq!(
        root.attribute("Destination"),
        Some("https://idp.test.example/sso")
    );
    assert_eq!(root.attribute("AssertionConsumerServiceURL"), Some(ACS_URL));
    assert_eq!(
        root.attribute("ProtocolBinding"),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
    let instant = OffsetDateTime::parse(
        root.attribute("IssueInstant").unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((instant - now).abs() < Duration::seconds(1));
    assert_ne!(authn_request(&idp::sp(), &idp::idp(), None, now).id, req.id);
}

/// SP-initiated through the IdP's HTTP mode: our AuthnRequest by redirect, pysaml2 answers with
/// an auto-posting form carrying a response to our request ID, which verifies.
#[tokio::test]
async fn saml_sp_initiated_round_trip_through_pysaml2() {
    let (mut child, base) = idp::serve();
    let mut settings = idp::idp();
    settings.sso_url = format!("{base}/sso");
    let meta = parse_idp_metadata(
        &reqwest::get(format!("{base}/metadata"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(meta.sso_url, settings.sso_url);
    settings.certificates = meta.certificates;

    let req = authn_request(
        &idp::sp(),
        &settings,
        Some("/portal"),
        OffsetDateTime::now_utc(),
    );
    let page = reqwest::get(format!("{}&user=bob&group=auditors", req.redirect_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = page
            .find(&marker)
            .unwrap_or_else(|| panic!("{name} in {page}"))
            + marker.len();
        page[start..start + page[start..].find('"').unwrap()].to_owned()
    };
    assert_eq!(field("RelayState"), "/portal");
    let outstanding = vec![req.id.clone()];
    let v = verify_response(
        &field("SAMLResponse"),
        &idp::sp(),
        &settings,
        &Expectations {
            outstanding_request_ids: &outstanding,
            allow_unsolicited: false,
            clock_skew: Duration::seconds(60),
            now: OffsetDateTime::now_utc(),
            max_bytes: 256 * 1024,
        },
    )
    .unwrap();
    assert_eq!(v.name_id, "bob@example.com");
    assert_eq!(v.in_response_to, Some(req.id));
    assert_eq!(v.attributes["groups"], ["auditors"]);
}

/// With only the assertion signed, InResponseTo comes from the signed assertion alone: an
/// unsolicited assertion wrapped in an unsigned Response that names someone's outstanding
/// request is unsolicited, and refused where unsolicited sign-in is off.
#[test]
fn an_unsigned_envelope_cannot_make_an_unsolicited_assertion_look_requested() {
    let minted = idp::mint(&Mint {
        sign: "assertion",
        in_response_to: None,
        ..Mint::default()
    });
    assert!(!minted.xml.contains("InResponseTo"), "{}", minted.xml);
    // The attacker names an outstanding request on the unsigned Response.
    let forged = minted.xml.replacen(
        "<ns0:Response ",
        "<ns0:Response InResponseTo=\"_request-1\" ",
        1,
    );
    assert_ne!(forged, minted.xml, "the Response element was found");
    let b64 = STANDARD.encode(forged.as_bytes());
    assert_eq!(verify(&b64).unwrap_err(), Refusal::UnknownInResponseTo);
    // Where unsolicited sign-in is on, it is still no answer to that request.
    assert!(matches!(
        verify_with(&b64, &idp::idp(), true),
        Err(Refusal::UnknownInResponseTo)
    ));
    // Unwrapped, the same assertion is what it is: unsolicited.
    assert_eq!(verify(&minted.b64).unwrap_err(), Refusal::Unsolicited);
    let v = verify_with(&minted.b64, &idp::idp(), true).unwrap();
    assert_eq!(v.in_response_to, None);
}
