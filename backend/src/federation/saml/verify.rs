//! Response verification. The order of the checks, and why:
//!
//! 1. configuration: at least one usable signing certificate (else nothing could be verified);
//! 2. size, base64, UTF-8 and no `<!DOCTYPE`/`<!ENTITY` — all on bytes, before any parser;
//! 3. parse (roxmltree, DTD refused) and look at the shape only: a `samlp:Response`, its Status,
//!    unique IDs, an allow-listed algorithm in every `ds:Signature`, and where the signatures
//!    sit. Only two shapes are accepted: the Response signed (its own direct-child Signature
//!    referencing the root's ID) with exactly one Assertion, or no Response signature and one
//!    Assertion (direct child of the root) with its own direct-child Signature referencing its
//!    ID. Anything else that carries a signature is a wrapping attempt (XSW1–8);
//! 4. cryptography by xmlsec through samael, with only the configured certificates (a key in
//!    KeyInfo is never used), returning xmlsec's pre-digest bytes — exactly what was hashed;
//! 5. every value (NameID, attributes, conditions, InResponseTo) is read from those signed bytes,
//!    never from the document as received, after checking that they are the element chosen
//!    in 3. So even a shape this code failed to foresee cannot make it read unsigned content.

use std::collections::{BTreeMap, HashSet};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use roxmltree::Node;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider as _, ReduceMode};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::metadata::certificate_der;
use super::xml::{self, ASSERTION, DSIG, PROTOCOL};
use super::{Expectations, IdpSettings, Refusal, SpSettings, VerifiedAssertion};

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

const SIGNATURE_ALGORITHMS: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
];
const DIGEST_ALGORITHMS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
const SHA1_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
/// Canonicalisation (SignedInfo) and the only transforms a SAML signature needs. No XPath,
/// XSLT or base64 transforms: they are how signature-processing attacks get in.
const C14N: &[&str] = &[
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
];
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Which element the signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signed {
    Response,
    Assertion,
}

/// Verifies the base64 `SAMLResponse` form field. See the module contract.
pub fn verify_response(
    saml_response_b64: &str,
    sp: &SpSettings,
    idp: &IdpSettings,
    expect: &Expectations<'_>,
) -> Result<VerifiedAssertion, Refusal> {
    // 1. Configuration.
    let certs: Vec<Vec<u8>> = idp
        .certificates
        .iter()
        .filter_map(|c| certificate_der(c))
        .collect();
    if certs.is_empty() {
        return Err(Refusal::NoCertificateConfigured);
    }

    // 2. Bytes.
    let text = decode(saml_response_b64, expect.max_bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if xml::has_markup_declaration(text) {
        return Err(Refusal::DoctypeForbidden);
    }
    if declares_other_encoding(text) {
        return Err(Refusal::MalformedXml);
    }

    // 3. Shape.
    let doc = xml::parse(text).map_err(|_| Refusal::MalformedXml)?;
    let root = doc.root_element();
    if !xml::is(root, PROTOCOL, "Response") {
        return Err(Refusal::NotAResponse);
    }
    let status = xml::child(root, PROTOCOL, "Status")
        .and_then(|s| xml::child(s, PROTOCOL, "StatusCode"))
        .and_then(|c| c.attribute("Value"))
        .ok_or(Refusal::MalformedXml)?;
    if status != SUCCESS {
        return Err(Refusal::StatusNotSuccess(super::capped(status)));
    }
    check_unique_ids(root)?;
    for signature in xml::descendants(root, DSIG, "Signature") {
        check_algorithms(signature, idp.allow_sha1)?;
    }
    let (signed, chosen) = signed_shape(root)?;

    // 4. Cryptography: xmlsec, configured certificates only, pre-digest bytes back.
    let der: Vec<CertificateDer> = certs.iter().cloned().map(CertificateDer::from).collect();
    let predigest = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        text,
        &der,
        ReduceMode::PreDigest,
        // The allow-list above covers every Signature in the document, SHA-1 included when
        // the administrator enabled it (samael's list has no SHA-1 entry to pass here).
        None,
    )
    .map_err(|_| signature_failure(chosen, &certs))?;

    // 5. Read only what was signed.
    let signed_doc = xml::parse(&predigest).map_err(|_| Refusal::SignatureWrapping)?;
    let signed_root = signed_doc.root_element();
    let assertion = match signed {
        Signed::Response => {
            if !xml::is(signed_root, PROTOCOL, "Response")
                || signed_root.attribute("ID") != root.attribute("ID")
            {
                return Err(Refusal::SignatureWrapping);
            }
            let mut assertions = xml::descendants(signed_root, ASSERTION, "Assertion");
            let first = assertions.next().ok_or(Refusal::AssertionCount(0))?;
            let more = assertions.count();
            if more > 0 {
                return Err(Refusal::AssertionCount(more + 1));
            }
            first
        }
        Signed::Assertion => {
            if !xml::is(signed_root, ASSERTION, "Assertion")
                || signed_root.attribute("ID") != chosen.attribute("ID")
            {
                return Err(Refusal::SignatureWrapping);
            }
            signed_root
        }
    };
    // The envelope: signed when the Response is; otherwise only ever used to refuse.
    let envelope = if signed == Signed::Response {
        signed_root
    } else {
        root
    };
    check_assertion(envelope, assertion, signed, sp, idp, expect)
}

fn decode(b64: &str, max_bytes: usize) -> Result<String, Refusal> {
    // Base64 is 4/3 of the data; allow line breaks (some IdPs wrap at 64 or 76 columns).
    let max_b64 = max_bytes.div_ceil(3).saturating_mul(4);
    if b64.len() > max_b64.saturating_add(max_b64 / 32).saturating_add(16) {
        return Err(Refusal::TooLarge);
    }
    let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() > max_b64 {
        return Err(Refusal::TooLarge);
    }
    let bytes = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| Refusal::NotBase64)?;
    if bytes.is_empty() {
        return Err(Refusal::NotBase64);
    }
    if bytes.len() > max_bytes {
        return Err(Refusal::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| Refusal::MalformedXml)
}

/// libxml honours an XML declaration's encoding, roxmltree reads UTF-8: two parsers must see
/// the same characters, so anything but UTF-8 is refused.
fn declares_other_encoding(text: &str) -> bool {
    let Some(decl) = text.strip_prefix("<?xml") else {
        return false;
    };
    let decl = decl.split("?>").next().unwrap_or_default();
    match decl.find("encoding") {
        None => false,
        Some(at) => {
            let value: String = decl[at + "encoding".len()..]
                .chars()
                .skip_while(|c| c.is_whitespace() || *c == '=' || *c == '"' || *c == '\'')
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            !value.eq_ignore_ascii_case("utf-8")
        }
    }
}

/// Two elements with one ID make "#id" ambiguous: what xmlsec digests and what a reader picks
/// could differ. `xml:id` counts as an ID too (libxml treats it as one).
fn check_unique_ids(root: Node<'_, '_>) -> Result<(), Refusal> {
    let mut seen = HashSet::new();
    for node in root.descendants().filter(Node::is_element) {
        for attr in node.attributes() {
            let is_id = (attr.name() == "ID" && attr.namespace().is_none())
                || (attr.name() == "id"
                    && attr.namespace() == Some("http://www.w3.org/XML/1998/namespace"));
            if is_id && !seen.insert(attr.value()) {
                return Err(Refusal::SignatureWrapping);
            }
        }
    }
    Ok(())
}

fn check_algorithms(signature: Node<'_, '_>, allow_sha1: bool) -> Result<(), Refusal> {
    let forbidden =
        |alg: Option<&str>| Refusal::AlgorithmForbidden(super::capped(alg.unwrap_or("none")));
    let signed_info = xml::child(signature, DSIG, "SignedInfo").ok_or_else(|| forbidden(None))?;
    let c14n = xml::child(signed_info, DSIG, "CanonicalizationMethod")
        .and_then(|m| m.attribute("Algorithm"));
    if !c14n.is_some_and(|a| C14N.contains(&a)) {
        return Err(forbidden(c14n));
    }
    let method =
        xml::child(signed_info, DSIG, "SignatureMethod").and_then(|m| m.attribute("Algorithm"));
    if !method
        .is_some_and(|a| SIGNATURE_ALGORITHMS.contains(&a) || (allow_sha1 && a == SHA1_SIGNATURE))
    {
        return Err(forbidden(method));
    }
    let mut references = 0;
    for reference in xml::children(signed_info, DSIG, "Reference") {
        references += 1;
        let digest =
            xml::child(reference, DSIG, "DigestMethod").and_then(|m| m.attribute("Algorithm"));
        if !digest
            .is_some_and(|a| DIGEST_ALGORITHMS.contains(&a) || (allow_sha1 && a == SHA1_DIGEST))
        {
            return Err(forbidden(digest));
        }
        if let Some(transforms) = xml::child(reference, DSIG, "Transforms") {
            for transform in transforms.children().filter(Node::is_element) {
                let alg = transform.attribute("Algorithm");
                if !xml::is(transform, DSIG, "Transform")
                    || !alg.is_some_and(|a| a == ENVELOPED || C14N.contains(&a))
                {
                    return Err(forbidden(alg));
                }
            }
        }
    }
    if references == 0 {
        return Err(forbidden(None));
    }
    Ok(())
}

/// Which of the two accepted shapes this is, and the element whose signature counts.
fn signed_shape<'a, 'input>(root: Node<'a, 'input>) -> Result<(Signed, Node<'a, 'input>), Refusal> {
    let all: Vec<Node<'_, '_>> = root
        .descendants()
        .filter(|n| {
            xml::is(*n, ASSERTION, "Assertion") || xml::is(*n, ASSERTION, "EncryptedAssertion")
        })
        .collect();
    let direct: Vec<Node<'_, '_>> = all
        .iter()
        .copied()
        .filter(|n| n.parent_element() == Some(root))
        .collect();
    let any_signature = xml::descendants(root, DSIG, "Signature").next().is_some();

    if let Some(signature) = own_signature(root)? {
        covers(signature, root)?;
        return match (direct.as_slice(), all.len()) {
            ([_], 1) => Ok((Signed::Response, root)),
            ([only], _)
                if all
                    .iter()
                    .all(|a| *a == *only || a.ancestors().any(|p| p == *only)) =>
            {
                Err(Refusal::NestedAssertion)
            }
            (_, n) => Err(Refusal::AssertionCount(n)),
        };
    }
    if let [only] = direct.as_slice() {
        if let Some(signature) = own_signature(*only)? {
            covers(signature, *only)?;
            if all.len() == 1 {
                return Ok((Signed::Assertion, *only));
            }
            return if all
                .iter()
                .all(|a| *a == *only || a.ancestors().any(|p| p == *only))
            {
                Err(Refusal::NestedAssertion)
            } else {
                Err(Refusal::SignatureWrapping)
            };
        }
    }
    if any_signature {
        // A signature somewhere other than the two accepted places: wrapping.
        Err(Refusal::SignatureWrapping)
    } else {
        Err(Refusal::Unsigned)
    }
}

/// The element's own Signature (a direct child); more than one is refused.
fn own_signature<'a, 'input>(
    element: Node<'a, 'input>,
) -> Result<Option<Node<'a, 'input>>, Refusal> {
    let mut signatures = xml::children(element, DSIG, "Signature");
    let first = signatures.next();
    if signatures.next().is_some() {
        return Err(Refusal::SignatureWrapping);
    }
    Ok(first)
}

/// The signature has exactly one Reference, and it names `element` by its ID.
fn covers(signature: Node<'_, '_>, element: Node<'_, '_>) -> Result<(), Refusal> {
    let id = element
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or(Refusal::SignatureWrapping)?;
    let signed_info =
        xml::child(signature, DSIG, "SignedInfo").ok_or(Refusal::SignatureWrapping)?;
    let mut references = xml::children(signed_info, DSIG, "Reference");
    let uri = references
        .next()
        .and_then(|r| r.attribute("URI"))
        .ok_or(Refusal::SignatureWrapping)?;
    if references.next().is_some() || uri.strip_prefix('#') != Some(id) {
        return Err(Refusal::SignatureWrapping);
    }
    Ok(())
}

/// After xmlsec refused: a valid-looking signature by a certificate the administrator did
/// not configure (rollover) is worth telling apart from a broken one.
fn signature_failure(chosen: Node<'_, '_>, configured: &[Vec<u8>]) -> Refusal {
    let carried: Vec<Vec<u8>> = xml::child(chosen, DSIG, "Signature")
        .into_iter()
        .flat_map(|s| xml::descendants(s, DSIG, "X509Certificate").collect::<Vec<_>>())
        .filter_map(|c| certificate_der(&xml::full_text(c)))
        .collect();
    if !carried.is_empty() && carried.iter().all(|c| !configured.contains(c)) {
        Refusal::UntrustedKey
    } else {
        Refusal::SignatureInvalid
    }
}

fn check_assertion(
    envelope: Node<'_, '_>,
    assertion: Node<'_, '_>,
    signed: Signed,
    sp: &SpSettings,
    idp: &IdpSettings,
    expect: &Expectations<'_>,
) -> Result<VerifiedAssertion, Refusal> {
    let now = expect.now;
    let skew = expect.clock_skew;

    // Issuer: the Response's is optional, the Assertion's is required; both must be the IdP.
    if let Some(issuer) = xml::child(envelope, ASSERTION, "Issuer") {
        if xml::value(issuer) != idp.entity_id.trim() {
            return Err(Refusal::IssuerMismatch);
        }
    }
    let issuer = xml::child(assertion, ASSERTION, "Issuer").ok_or(Refusal::IssuerMismatch)?;
    if xml::value(issuer) != idp.entity_id.trim() {
        return Err(Refusal::IssuerMismatch);
    }

    // Destination: required on a signed Response; never different from our ACS.
    match envelope.attribute("Destination") {
        Some(destination) if destination != sp.acs_url => return Err(Refusal::DestinationMismatch),
        None if signed == Signed::Response => return Err(Refusal::DestinationMismatch),
        _ => {}
    }

    // Audience: at least one AudienceRestriction, and every one names us.
    let conditions =
        xml::child(assertion, ASSERTION, "Conditions").ok_or(Refusal::AudienceMismatch)?;
    let mut restrictions = 0;
    for restriction in xml::children(conditions, ASSERTION, "AudienceRestriction") {
        restrictions += 1;
        if !xml::children(restriction, ASSERTION, "Audience").any(|a| xml::value(a) == sp.entity_id)
        {
            return Err(Refusal::AudienceMismatch);
        }
    }
    if restrictions == 0 {
        return Err(Refusal::AudienceMismatch);
    }

    // Subject: a bearer confirmation for our ACS.
    let subject = xml::child(assertion, ASSERTION, "Subject").ok_or(Refusal::MissingNameId)?;
    let confirmation = xml::children(subject, ASSERTION, "SubjectConfirmation")
        .filter(|c| c.attribute("Method") == Some(BEARER))
        .find_map(|c| xml::child(c, ASSERTION, "SubjectConfirmationData"))
        .ok_or(Refusal::RecipientMismatch)?;
    if confirmation.attribute("Recipient") != Some(sp.acs_url.as_str()) {
        return Err(Refusal::RecipientMismatch);
    }

    // Time: NotBefore ≤ now + skew; now − skew < NotOnOrAfter.
    let not_before = [
        time_attr(conditions, "NotBefore")?,
        time_attr(confirmation, "NotBefore")?,
    ];
    if not_before.iter().flatten().any(|t| *t > now + skew) {
        return Err(Refusal::NotYetValid);
    }
    let confirmation_end =
        time_attr(confirmation, "NotOnOrAfter")?.ok_or(Refusal::MissingValidity)?;
    let not_on_or_after = match time_attr(conditions, "NotOnOrAfter")? {
        Some(end) => end.min(confirmation_end),
        None => confirmation_end,
    };
    if not_on_or_after <= now - skew {
        return Err(Refusal::Expired);
    }
    let authn = xml::child(assertion, ASSERTION, "AuthnStatement");
    if let Some(session_end) = authn
        .map(|a| time_attr(a, "SessionNotOnOrAfter"))
        .transpose()?
        .flatten()
    {
        if session_end <= now - skew {
            return Err(Refusal::Expired);
        }
    }

    // InResponseTo: the signed confirmation's, agreeing with the Response's when both exist.
    // The Response's alone counts only when the Response is signed: with only the assertion
    // signed, an envelope naming a request the assertion does not is the sender's word, and
    // an unsolicited assertion so wrapped is refused.
    let confirmation_irt = confirmation.attribute("InResponseTo");
    let envelope_irt = envelope.attribute("InResponseTo");
    let in_response_to = match (confirmation_irt, envelope_irt) {
        (Some(a), Some(b)) if a != b => return Err(Refusal::UnknownInResponseTo),
        (Some(a), _) => Some(a),
        (None, Some(b)) if signed == Signed::Response => Some(b),
        (None, Some(_)) => return Err(Refusal::UnknownInResponseTo),
        (None, None) => None,
    }
    .map(str::to_owned);
    match &in_response_to {
        Some(id) if !expect.outstanding_request_ids.iter().any(|o| o == id) => {
            return Err(Refusal::UnknownInResponseTo)
        }
        None if !expect.allow_unsolicited => return Err(Refusal::Unsolicited),
        _ => {}
    }

    // Who: NameID as its full text.
    let name_id = xml::child(subject, ASSERTION, "NameID").ok_or(Refusal::MissingNameId)?;
    let name_id_value = xml::value(name_id);
    if name_id_value.is_empty() {
        return Err(Refusal::MissingNameId);
    }
    let assertion_id = assertion
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or(Refusal::MalformedXml)?
        .to_owned();

    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in xml::children(assertion, ASSERTION, "AttributeStatement") {
        for attribute in xml::children(statement, ASSERTION, "Attribute") {
            let Some(name) = attribute.attribute("Name") else {
                continue;
            };
            attributes
                .entry(name.to_owned())
                .or_default()
                .extend(xml::children(attribute, ASSERTION, "AttributeValue").map(xml::value));
        }
    }
    let authn_context_class_ref = authn
        .and_then(|a| xml::child(a, ASSERTION, "AuthnContext"))
        .and_then(|c| xml::child(c, ASSERTION, "AuthnContextClassRef"))
        .map(xml::value);

    Ok(VerifiedAssertion {
        assertion_id,
        in_response_to,
        name_id: name_id_value,
        name_id_format: name_id.attribute("Format").map(str::to_owned),
        attributes,
        authn_context_class_ref,
        not_on_or_after,
        session_index: authn
            .and_then(|a| a.attribute("SessionIndex"))
            .map(str::to_owned),
    })
}

fn time_attr(node: Node<'_, '_>, name: &str) -> Result<Option<OffsetDateTime>, Refusal> {
    node.attribute(name)
        .map(|v| OffsetDateTime::parse(v.trim(), &Rfc3339).map_err(|_| Refusal::MalformedXml))
        .transpose()
}
