//! The AuthnRequest for the HTTP-Redirect binding (SAML bindings §3.4): DEFLATE, base64,
//! URL-encode. Unsigned, as the SP metadata says (`AuthnRequestsSigned="false"`).

use std::io::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use rand::RngCore as _;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::xml::{self, ASSERTION, BINDING_POST, PROTOCOL};
use super::{AuthnRequest, IdpSettings, SpSettings};

/// A fresh AuthnRequest for the HTTP-Redirect binding.
pub fn authn_request(
    sp: &SpSettings,
    idp: &IdpSettings,
    relay_state: Option<&str>,
    now: OffsetDateTime,
) -> AuthnRequest {
    let mut random = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut random);
    let id = format!("_{}", hex::encode(random));
    let document = format!(
        r#"<samlp:AuthnRequest xmlns:samlp="{PROTOCOL}" xmlns:saml="{ASSERTION}" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="{BINDING_POST}"><saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#,
        instant = instant(now),
        destination = xml::escape(&idp.sso_url),
        acs = xml::escape(&sp.acs_url),
        issuer = xml::escape(&sp.entity_id),
    );
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair(
        "SAMLRequest",
        &STANDARD.encode(deflate(document.as_bytes())),
    );
    if let Some(relay_state) = relay_state {
        query.append_pair("RelayState", relay_state);
    }
    let separator = if idp.sso_url.contains('?') { '&' } else { '?' };
    AuthnRequest {
        id,
        redirect_url: format!("{}{separator}{}", idp.sso_url, query.finish()),
    }
}

/// xs:dateTime in UTC, whole seconds, `Z` (what every IdP parses).
fn instant(now: OffsetDateTime) -> String {
    let utc = now
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(now);
    utc.format(&Rfc3339).unwrap_or_default()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}
