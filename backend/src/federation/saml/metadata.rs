//! IdP metadata import and Gatehouse's SP metadata.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::xml::{self, BINDING_POST, BINDING_REDIRECT, DSIG, METADATA};
use super::{IdpMetadata, MetadataError, SpSettings};

/// Size limit for pasted or fetched metadata (aggregates of many IdPs are refused; paste the
/// one IdP's metadata instead).
const MAX_METADATA_BYTES: usize = 1024 * 1024;

/// Reads an IdP's metadata XML (EntityDescriptor or the first IDPSSODescriptor of an
/// EntitiesDescriptor): entity ID, HTTP-Redirect SSO URL, signing certificates.
pub fn parse_idp_metadata(text: &str) -> Result<IdpMetadata, MetadataError> {
    if text.len() > MAX_METADATA_BYTES {
        return Err(err("the metadata is larger than 1 MB"));
    }
    let text = text.trim_start_matches('\u{feff}');
    if xml::has_markup_declaration(text) {
        return Err(err("the metadata contains a DOCTYPE, which is not allowed"));
    }
    let doc =
        xml::parse(text).map_err(|e| err(&format!("the metadata is not well-formed XML: {e}")))?;
    let root = doc.root_element();
    let entity = if xml::is(root, METADATA, "EntityDescriptor") {
        root
    } else if xml::is(root, METADATA, "EntitiesDescriptor") {
        xml::descendants(root, METADATA, "EntityDescriptor")
            .find(|e| xml::child(*e, METADATA, "IDPSSODescriptor").is_some())
            .ok_or_else(|| err("the metadata describes no identity provider (IDPSSODescriptor)"))?
    } else {
        return Err(err(
            "this is not SAML metadata (expected an EntityDescriptor)",
        ));
    };
    let entity_id = entity
        .attribute("entityID")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err("the EntityDescriptor has no entityID"))?
        .to_owned();
    let idp = xml::child(entity, METADATA, "IDPSSODescriptor")
        .ok_or_else(|| err("the metadata describes no identity provider (IDPSSODescriptor)"))?;
    let sso_url = xml::children(idp, METADATA, "SingleSignOnService")
        .find(|s| s.attribute("Binding") == Some(BINDING_REDIRECT))
        .and_then(|s| s.attribute("Location"))
        .map(str::trim)
        .filter(|s| s.starts_with("https://") || s.starts_with("http://"))
        .ok_or_else(|| err("the identity provider offers no HTTP-Redirect SingleSignOnService"))?
        .to_owned();
    let mut certificates = Vec::new();
    for kd in xml::children(idp, METADATA, "KeyDescriptor") {
        if !matches!(kd.attribute("use"), None | Some("signing")) {
            continue;
        }
        for cert in xml::descendants(kd, DSIG, "X509Certificate") {
            let cert = normalize_certificate(&xml::full_text(cert))?;
            if !certificates.contains(&cert) {
                certificates.push(cert);
            }
        }
    }
    if certificates.is_empty() {
        return Err(err(
            "the metadata has no signing certificate; Gatehouse cannot verify this identity provider",
        ));
    }
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        certificates,
    })
}

/// A certificate as base64 DER without whitespace, from base64 DER or PEM; refused unless it
/// parses as an X.509 certificate.
pub fn normalize_certificate(text: &str) -> Result<String, MetadataError> {
    let der =
        certificate_der(text).ok_or_else(|| err("a signing certificate is not valid base64"))?;
    openssl::x509::X509::from_der(&der)
        .map_err(|_| err("a signing certificate is not a valid X.509 certificate"))?;
    Ok(STANDARD.encode(der))
}

/// The DER bytes of a configured certificate (base64, PEM armour and whitespace ignored).
pub(super) fn certificate_der(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
        .collect();
    if body.is_empty() {
        return None;
    }
    STANDARD.decode(body).ok()
}

/// Gatehouse's SP metadata for one IdP: entity ID, ACS (HTTP-POST), NameID formats,
/// `AuthnRequestsSigned="false"` (requests go unsigned by HTTP-Redirect),
/// `WantAssertionsSigned="true"`.
pub fn sp_metadata(sp: &SpSettings) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{METADATA}" entityID="{entity}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{BINDING_POST}" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity = xml::escape(&sp.entity_id),
        acs = xml::escape(&sp.acs_url),
    )
}

fn err(message: &str) -> MetadataError {
    MetadataError(message.to_owned())
}
