//! Gatehouse as a SAML 2.0 identity provider for a cloud's role-based SSO: its signing keys
//! (RSA-2048, sealed under the master key, with rollover: a `next` key is published in the
//! metadata before it signs), its metadata, and assertions for one role, signed whole
//! (enveloped, exclusive c14n, RSA-SHA256) by xmlsec through samael.

use std::sync::RwLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use gatehouse_shared::audit::AuditAction;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509};
use sha2::Digest as _;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::audit::{AuditCtx, NewEvent};
use crate::clock::Millis;
use crate::federation::saml::xml::escape;
use crate::secrets::MasterKey;
use crate::store::{IdpKeyRecord, Store, StoreError, StoreResult};

/// The sealing purpose of IdP private keys.
pub const PURPOSE: &str = "idp-signing-key";
/// How long the cached keys are trusted before the store is read again (another instance
/// may have rolled them over).
const CACHE_MS: i64 = 30_000;

/// What one assertion says.
#[derive(Debug, Clone)]
pub struct AssertionFor<'a> {
    /// Gatehouse's IdP entity ID (the metadata URL).
    pub issuer: &'a str,
    /// The SAML Recipient and the Response's Destination.
    pub recipient: &'a str,
    pub audience: &'a str,
    /// The NameID and the role session name.
    pub session_name: &'a str,
    /// `(attribute name, values)`, in order.
    pub attributes: &'a [(&'a str, Vec<String>)],
    pub now: Millis,
    /// How long the assertion may be used.
    pub lifetime_ms: i64,
}

/// A usable key: the private key as PKCS#8 DER, and the certificate.
struct LoadedKey {
    id: String,
    state: String,
    /// Parsed once per load: parsing an RSA key costs more than a signature.
    key: PKey<Private>,
    certificate: String,
}

/// The keys, cached.
#[derive(Default)]
pub struct Idp {
    cache: RwLock<Option<(Millis, Vec<LoadedKey>)>>,
}

impl std::fmt::Debug for Idp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idp").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error("no active IdP signing key")]
    NoKey,
    #[error("signing failed: {0}")]
    Sign(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new RSA-2048 key and a self-signed certificate for it (10 years: clouds read only the
/// key from it), as a record to store.
pub fn generate_key(
    master: &MasterKey,
    state: &str,
    now: Millis,
) -> Result<IdpKeyRecord, IdpError> {
    let fail = |e: openssl::error::ErrorStack| IdpError::Sign(e.to_string());
    let rsa = Rsa::generate(2048).map_err(fail)?;
    let pkey = PKey::from_rsa(rsa).map_err(fail)?;
    let mut name = X509NameBuilder::new().map_err(fail)?;
    name.append_entry_by_text("CN", "Gatehouse SAML IdP")
        .map_err(fail)?;
    let name = name.build();
    let mut b = X509::builder().map_err(fail)?;
    b.set_version(2).map_err(fail)?;
    let mut serial = BigNum::new().map_err(fail)?;
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .map_err(fail)?;
    let serial = serial.to_asn1_integer().map_err(fail)?;
    b.set_serial_number(&serial).map_err(fail)?;
    b.set_subject_name(&name).map_err(fail)?;
    b.set_issuer_name(&name).map_err(fail)?;
    b.set_pubkey(&pkey).map_err(fail)?;
    let start = Asn1Time::from_unix(now / 1000 - 3600).map_err(fail)?;
    let end = Asn1Time::from_unix(now / 1000 + 10 * 365 * 86_400).map_err(fail)?;
    b.set_not_before(&start).map_err(fail)?;
    b.set_not_after(&end).map_err(fail)?;
    b.sign(&pkey, MessageDigest::sha256()).map_err(fail)?;
    let cert = b.build().to_der().map_err(fail)?;
    let der = Zeroizing::new(pkey.private_key_to_pkcs8().map_err(fail)?);
    Ok(IdpKeyRecord {
        id: format!("idpk-{}", uuid::Uuid::new_v4().simple()),
        state: state.to_string(),
        private_key: master.seal(PURPOSE, &der),
        certificate: STANDARD.encode(cert),
        created_at: now,
        activated_at: (state == "active").then_some(now),
        retired_at: None,
    })
}

impl Idp {
    /// Makes sure an active key exists (on first use): generates and stores one if none
    /// does. Several instances racing store one between them.
    pub async fn ensure_key(
        &self,
        store: &dyn Store,
        master: &MasterKey,
        now: Millis,
    ) -> Result<(), IdpError> {
        if store.idp_keys().await?.iter().any(|k| k.state == "active") {
            return Ok(());
        }
        let key = generate_key(master, "active", now)?;
        let ev = NewEvent::new(
            now,
            &AuditCtx::system(),
            AuditAction::CloudIdpKeyCreate,
            "idp_key",
            Some(key.id.clone()),
        );
        match store.add_idp_key(key, ev).await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Forgets the cached keys (after a rollover on this instance).
    pub fn forget(&self) {
        if let Ok(mut c) = self.cache.write() {
            *c = None;
        }
    }

    async fn load(
        &self,
        store: &dyn Store,
        master: &MasterKey,
        now: Millis,
    ) -> Result<(), IdpError> {
        let fresh = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.as_ref().map(|(at, _)| now - at < CACHE_MS && now >= *at))
            .unwrap_or(false);
        if fresh {
            return Ok(());
        }
        let mut stored = store.idp_keys().await?;
        if !stored.iter().any(|k| k.state == "active") {
            // The first use makes the key: an installation that never connects a cloud
            // has none.
            self.ensure_key(store, master, now).await?;
            stored = store.idp_keys().await?;
        }
        let mut keys = Vec::new();
        for k in stored {
            if k.state == "retired" {
                continue;
            }
            let der = master
                .open(PURPOSE, &k.private_key)
                .map_err(StoreError::Key)?;
            let key = PKey::private_key_from_pkcs8(&der)
                .map_err(|e| IdpError::Sign(format!("the stored IdP key does not parse: {e}")))?;
            keys.push(LoadedKey {
                id: k.id,
                state: k.state,
                key,
                certificate: k.certificate,
            });
        }
        if let Ok(mut c) = self.cache.write() {
            *c = Some((now, keys));
        }
        Ok(())
    }

    /// The certificates the metadata publishes: the active key's, then the next one's.
    pub async fn certificates(
        &self,
        store: &dyn Store,
        master: &MasterKey,
        now: Millis,
    ) -> Result<Vec<String>, IdpError> {
        self.load(store, master, now).await?;
        let c = self.cache.read().map_err(|_| IdpError::NoKey)?;
        let mut keys: Vec<&LoadedKey> = c
            .as_ref()
            .map(|(_, k)| k.iter().collect())
            .unwrap_or_default();
        keys.sort_by_key(|k| k.state != "active");
        Ok(keys.iter().map(|k| k.certificate.clone()).collect())
    }

    /// A SAML Response carrying one assertion, the assertion signed with the active key;
    /// returns the Response XML and the assertion's ID.
    pub async fn sign_response(
        &self,
        store: &dyn Store,
        master: &MasterKey,
        a: &AssertionFor<'_>,
    ) -> Result<(String, String), IdpError> {
        self.load(store, master, a.now).await?;
        let (key, certificate) = {
            let c = self.cache.read().map_err(|_| IdpError::NoKey)?;
            let key = c
                .as_ref()
                .and_then(|(_, keys)| keys.iter().find(|k| k.state == "active"))
                .ok_or(IdpError::NoKey)?;
            tracing::trace!(key = %key.id, "signing an assertion");
            (key.key.clone(), key.certificate.clone())
        };
        sign(a, &key, &certificate)
    }
}

/// Signs a Response for `a` with `key` and its base64 certificate; returns the XML and the
/// assertion's ID. What [`Idp::sign_response`] does once it has the key.
///
/// The assertion is Gatehouse's own, built here byte by byte in its exclusive XML
/// canonical form (C14N 1.0 exclusive: attributes in order, no empty-element tags, the
/// namespace declared where it is used, no whitespace between elements), so the bytes the
/// digest is taken over are the ones written, with no XML parser in between. The result is
/// an enveloped XML signature (exclusive c14n, RSA-SHA256, SHA-256 digest) that libxmlsec1
/// verifies: the tests check every signature with samael's xmlsec, the Alibaba Cloud
/// emulator with libxmlsec1 and the `xmlsec1` CLI.
pub fn sign(
    a: &AssertionFor<'_>,
    key: &PKey<Private>,
    certificate: &str,
) -> Result<(String, String), IdpError> {
    let assertion_id = format!("_{}", uuid::Uuid::new_v4().simple());
    let (open, issuer, rest) = assertion_parts(a, &assertion_id);
    let canonical = format!("{open}{issuer}{rest}</saml:Assertion>");
    let digest = STANDARD.encode(sha2::Sha256::digest(canonical.as_bytes()));
    let signed_info = format!(
        "<ds:SignedInfo xmlns:ds=\"{DSIG}\"><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\">\
         </ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"{RSA_SHA256}\">\
         </ds:SignatureMethod><ds:Reference URI=\"#{assertion_id}\"><ds:Transforms><ds:Transform \
         Algorithm=\"{ENVELOPED}\"></ds:Transform><ds:Transform Algorithm=\"{EXC_C14N}\">\
         </ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{SHA256}\"></ds:DigestMethod>\
         <ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    );
    let fail = |e: openssl::error::ErrorStack| IdpError::Sign(e.to_string());
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), key).map_err(fail)?;
    signer.update(signed_info.as_bytes()).map_err(fail)?;
    let value = STANDARD.encode(signer.sign_to_vec().map_err(fail)?);
    let signature = format!(
        "<ds:Signature xmlns:ds=\"{DSIG}\">{signed_info}<ds:SignatureValue>{value}\
         </ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}\
         </ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"
    );
    let recipient = attr(a.recipient);
    let response = format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         Destination=\"{recipient}\" ID=\"_{response_id}\" IssueInstant=\"{now}\" Version=\"2.0\">\
         <saml:Issuer xmlns:saml=\"{SAML}\">{issuer_text}</saml:Issuer><samlp:Status>\
         <samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"></samlp:StatusCode>\
         </samlp:Status>{open}{issuer}{signature}{rest}</saml:Assertion></samlp:Response>",
        response_id = uuid::Uuid::new_v4().simple(),
        now = instant(a.now),
        issuer_text = text(a.issuer),
    );
    Ok((response, assertion_id))
}

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// Text content as C14N writes it.
fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\r', "&#xD;")
}

/// An attribute value as C14N writes it.
fn attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
        .replace('\t', "&#x9;")
        .replace('\n', "&#xA;")
        .replace('\r', "&#xD;")
}

/// The assertion in canonical form, in three parts: its start tag, its Issuer, and the rest
/// of its content (the Signature goes between the last two).
fn assertion_parts(a: &AssertionFor<'_>, id: &str) -> (String, String, String) {
    let now = instant(a.now);
    let not_before = instant(a.now - 60_000);
    let until = instant(a.now + a.lifetime_ms);
    let recipient = attr(a.recipient);
    let mut attributes = String::new();
    for (name, values) in a.attributes {
        attributes.push_str(&format!("<saml:Attribute Name=\"{}\">", attr(name)));
        for v in values {
            attributes.push_str(&format!(
                "<saml:AttributeValue>{}</saml:AttributeValue>",
                text(v)
            ));
        }
        attributes.push_str("</saml:Attribute>");
    }
    let open = format!(
        "<saml:Assertion xmlns:saml=\"{SAML}\" ID=\"{id}\" IssueInstant=\"{now}\" Version=\"2.0\">"
    );
    let issuer = format!("<saml:Issuer>{}</saml:Issuer>", text(a.issuer));
    let rest = format!(
        "<saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">\
         {subject}</saml:NameID><saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
         <saml:SubjectConfirmationData NotOnOrAfter=\"{until}\" Recipient=\"{recipient}\">\
         </saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{until}\"><saml:AudienceRestriction>\
         <saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
         <saml:AuthnStatement AuthnInstant=\"{now}\" SessionIndex=\"{id}\"><saml:AuthnContext>\
         <saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport\
         </saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>\
         <saml:AttributeStatement>{attributes}</saml:AttributeStatement>",
        subject = text(a.session_name),
        audience = text(a.audience),
    );
    (open, issuer, rest)
}

/// `2026-12-07T10:00:00Z`.
fn instant(ms: Millis) -> String {
    OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Gatehouse's IdP metadata: its entity ID, the signing certificates (active first, then
/// the next key, so clouds trust it before it signs). One element per line, so a person
/// can read it in the setup kit.
pub fn metadata(entity_id: &str, sso_url: &str, certificates: &[String]) -> String {
    let keys: String = certificates
        .iter()
        .map(|c| {
            format!(
                "  <md:KeyDescriptor use=\"signing\">\n    <ds:KeyInfo><ds:X509Data>\
                 <ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n  \
                 </md:KeyDescriptor>\n"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<md:EntityDescriptor \
         xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
         xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"\n    entityID=\"{entity}\">\n\
         <md:IDPSSODescriptor WantAuthnRequestsSigned=\"false\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n{keys}  \
         <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n  \
         <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" \
         Location=\"{sso}\"/>\n</md:IDPSSODescriptor>\n</md:EntityDescriptor>\n",
        entity = escape(entity_id),
        sso = escape(sso_url),
    )
}

/// Rollover, step one: a `next` key, published from now on.
pub async fn add_next_key(
    store: &dyn Store,
    master: &MasterKey,
    idp: &Idp,
    now: Millis,
    ctx: &AuditCtx,
) -> Result<(), IdpError> {
    let key = generate_key(master, "next", now)?;
    let ev = NewEvent::new(
        now,
        ctx,
        AuditAction::CloudIdpKeyCreate,
        "idp_key",
        Some(key.id.clone()),
    );
    store.add_idp_key(key, ev).await?;
    idp.forget();
    Ok(())
}

/// Rollover, step two: the `next` key signs from now on; the old one is retired.
pub async fn promote_next_key(
    store: &dyn Store,
    idp: &Idp,
    now: Millis,
    ctx: &AuditCtx,
) -> StoreResult<IdpKeyRecord> {
    let ev = NewEvent::new(now, ctx, AuditAction::CloudIdpKeyActivate, "idp_key", None);
    let key = store.promote_idp_key(now, ev).await?;
    idp.forget();
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use samael::crypto::{CertificateDer, Crypto, CryptoProvider as _, ReduceMode};

    #[test]
    fn xmlsec_verifies_the_signature_and_refuses_a_changed_assertion() {
        let master = MasterKey::generate();
        let rec = generate_key(&master, "active", 1_765_000_000_000).unwrap();
        let der = master.open(PURPOSE, &rec.private_key).unwrap();
        let key = PKey::private_key_from_pkcs8(&der).unwrap();
        let attributes = [(
            "https://www.aliyun.com/SAML-Role/Attributes/Role",
            vec!["acs:ram::1:role/r,acs:ram::1:saml-provider/Gatehouse".to_string()],
        )];
        let a = AssertionFor {
            issuer: "https://gatehouse.example/saml/idp/metadata.xml?a=1&b=<2>",
            recipient: "https://signin.alibabacloud.com/saml-role/sso",
            audience: "urn:alibaba:cloudcomputing:international",
            session_name: "alice.1a2b3c4d",
            attributes: &attributes,
            now: 1_765_000_000_000,
            lifetime_ms: 300_000,
        };
        let (xml, id) = sign(&a, &key, &rec.certificate).unwrap();
        let cert = CertificateDer::from(STANDARD.decode(&rec.certificate).unwrap());
        let signed = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            &xml,
            std::slice::from_ref(&cert),
            ReduceMode::PreDigest,
            None,
        )
        .unwrap_or_else(|e| panic!("{e:?}\n{xml}"));
        assert!(signed.contains(&id) && signed.contains("alice.1a2b3c4d"));
        let changed = xml.replace("alice.1a2b3c4d", "mallory.1a2b3c4");
        assert!(Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            &changed,
            &[cert],
            ReduceMode::PreDigest,
            None
        )
        .is_err());
    }
}
