//! Identity providers (SAML 2.0 and OIDC) as the API shows them, the inputs that create and
//! change them, attribute/claim mapping presets, and the rules both the server and the SPA
//! apply: names, URLs, limits, and which return paths after sign-in are allowed.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::FieldError;
use crate::validate::Faults;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdpKind {
    Saml,
    Oidc,
}

impl IdpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Saml => "saml",
            Self::Oidc => "oidc",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "saml" => Some(Self::Saml),
            "oidc" => Some(Self::Oidc),
            _ => None,
        }
    }
}

/// Which attribute (SAML) or claim (OIDC) carries each piece of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeMapping {
    pub email: String,
    pub display_name: String,
    /// The username for just-in-time creation (falls back to the e-mail address).
    pub username: String,
    pub groups: String,
}

/// Naming conventions of common IdPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingPreset {
    Generic,
    Okta,
    EntraId,
    Keycloak,
}

impl MappingPreset {
    pub const ALL: [MappingPreset; 4] = [Self::Generic, Self::Okta, Self::EntraId, Self::Keycloak];

    pub fn label(self) -> &'static str {
        match self {
            Self::Generic => "Generic",
            Self::Okta => "Okta",
            Self::EntraId => "Microsoft Entra ID",
            Self::Keycloak => "Keycloak",
        }
    }

    /// The preset's attribute/claim names for `kind`.
    pub fn mapping(self, kind: IdpKind) -> AttributeMapping {
        let m = |e: &str, d: &str, u: &str, g: &str| AttributeMapping {
            email: e.into(),
            display_name: d.into(),
            username: u.into(),
            groups: g.into(),
        };
        const CLAIMS: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims";
        match (self, kind) {
            (Self::Generic | Self::Okta | Self::Keycloak, IdpKind::Oidc) => {
                m("email", "name", "preferred_username", "groups")
            }
            (Self::EntraId, IdpKind::Oidc) => m("email", "name", "preferred_username", "groups"),
            (Self::Generic, IdpKind::Saml) => m("email", "displayName", "username", "groups"),
            (Self::Okta, IdpKind::Saml) => m("email", "displayName", "login", "groups"),
            (Self::EntraId, IdpKind::Saml) => m(
                &format!("{CLAIMS}/emailaddress"),
                "http://schemas.microsoft.com/identity/claims/displayname",
                &format!("{CLAIMS}/name"),
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
            ),
            (Self::Keycloak, IdpKind::Saml) => m("email", "displayName", "username", "Role"),
        }
    }
}

/// A SAML IdP's settings (from its metadata, or entered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlSettings {
    pub entity_id: String,
    pub sso_url: String,
    /// Signing certificates, base64 DER; more than one during a rollover.
    pub certificates: Vec<String>,
}

/// An OIDC provider's settings, as shown (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// OIDC settings as entered; the secret is write-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSettingsInput {
    pub issuer: String,
    pub client_id: String,
    /// Required on create; on update `None` keeps the stored secret.
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// What the IdP administrator needs from Gatehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpEndpoints {
    /// Where people start signing in with this IdP.
    pub login_url: String,
    /// SAML: our entity ID, ACS URL and metadata URL.
    pub entity_id: Option<String>,
    pub acs_url: Option<String>,
    pub metadata_url: Option<String>,
    /// OIDC: the redirect URI to register with the provider.
    pub redirect_uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    pub id: String,
    pub name: String,
    pub kind: IdpKind,
    pub enabled: bool,
    pub saml: Option<SamlSettings>,
    pub oidc: Option<OidcSettings>,
    pub client_secret_set: bool,
    pub allow_sha1: bool,
    /// Set when SHA-1 is allowed: why that is weak.
    pub warning: Option<String>,
    pub allow_idp_initiated: bool,
    pub jit_create: bool,
    pub link_by_verified_email: bool,
    pub mapping: AttributeMapping,
    pub clock_skew_secs: i64,
    pub max_response_bytes: i64,
    pub sp: SpEndpoints,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

pub const SHA1_WARNING: &str = "SHA-1 signatures are accepted from this IdP. SHA-1 is broken for \
    collision resistance; switch the IdP to RSA-SHA256 and turn this off as soon as you can.";

/// Creates an IdP. SAML: give `saml_metadata_xml`, `saml_metadata_url` or `saml`.
/// OIDC: give `oidc` with the client secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewIdentityProvider {
    pub name: String,
    pub kind: Option<IdpKind>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub saml_metadata_xml: Option<String>,
    #[serde(default)]
    pub saml_metadata_url: Option<String>,
    #[serde(default)]
    pub saml: Option<SamlSettings>,
    #[serde(default)]
    pub oidc: Option<OidcSettingsInput>,
    #[serde(default)]
    pub allow_sha1: bool,
    #[serde(default)]
    pub allow_idp_initiated: bool,
    #[serde(default)]
    pub jit_create: bool,
    #[serde(default)]
    pub link_by_verified_email: bool,
    /// The mapping; when absent, the preset's (generic by default).
    #[serde(default)]
    pub mapping: Option<AttributeMapping>,
    #[serde(default)]
    pub preset: Option<MappingPreset>,
    #[serde(default)]
    pub clock_skew_secs: Option<i64>,
    #[serde(default)]
    pub max_response_bytes: Option<i64>,
}

/// Changes an IdP; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProviderChange {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub saml: Option<SamlSettings>,
    #[serde(default)]
    pub oidc: Option<OidcSettingsInput>,
    #[serde(default)]
    pub allow_sha1: Option<bool>,
    #[serde(default)]
    pub allow_idp_initiated: Option<bool>,
    #[serde(default)]
    pub jit_create: Option<bool>,
    #[serde(default)]
    pub link_by_verified_email: Option<bool>,
    #[serde(default)]
    pub mapping: Option<AttributeMapping>,
    #[serde(default)]
    pub clock_skew_secs: Option<i64>,
    #[serde(default)]
    pub max_response_bytes: Option<i64>,
}

/// Replaces a SAML IdP's entity ID, SSO URL and certificates from its metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImport {
    #[serde(default)]
    pub xml: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// An enabled IdP as the sign-in page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicIdp {
    pub id: String,
    pub name: String,
    pub kind: IdpKind,
    pub login_url: String,
}

// --- rules ---------------------------------------------------------------------------

pub const CLOCK_SKEW_DEFAULT_SECS: i64 = 60;
pub const CLOCK_SKEW_MAX_SECS: i64 = 600;
pub const MAX_RESPONSE_DEFAULT_BYTES: i64 = 256 * 1024;
pub const MAX_RESPONSE_MIN_BYTES: i64 = 4 * 1024;
pub const MAX_RESPONSE_MAX_BYTES: i64 = 4 * 1024 * 1024;

/// An IdP's name as shown on the sign-in button: 1–64 characters, no control characters.
pub fn parse_idp_name(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("Enter a name people will recognise, such as \"Okta\".".into());
    }
    if s.chars().count() > 64 {
        return Err("A name has at most 64 characters.".into());
    }
    if s.chars().any(char::is_control) {
        return Err("A name cannot contain control characters.".into());
    }
    Ok(s.to_string())
}

/// An `http(s)://host…` URL without spaces or a fragment, at most 2048 characters.
pub fn parse_http_url(raw: &str, what: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(format!("Enter the {what}."));
    }
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("The {what} starts with https:// (or http://)."))?;
    let host = rest.split(['/', '?']).next().unwrap_or("");
    if host.is_empty()
        || s.len() > 2048
        || s.contains('#')
        || s.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!("The {what} is not a valid URL."));
    }
    Ok(s.to_string())
}

fn parse_text(raw: &str, what: &str, max: usize) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(format!("Enter the {what}."));
    }
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(format!(
            "The {what} has at most {max} characters and no control characters."
        ));
    }
    Ok(s.to_string())
}

pub fn parse_client_id(raw: &str) -> Result<String, String> {
    parse_text(raw, "client ID", 255)
}

pub fn parse_client_secret(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Err("Enter the client secret.".into());
    }
    if raw.len() > 1024 || raw.chars().any(char::is_control) {
        return Err("The client secret has at most 1024 characters.".into());
    }
    Ok(raw.to_string())
}

pub fn check_clock_skew(secs: i64) -> Result<i64, String> {
    if (0..=CLOCK_SKEW_MAX_SECS).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!(
            "The clock skew is between 0 and {CLOCK_SKEW_MAX_SECS} seconds."
        ))
    }
}

pub fn check_max_response_bytes(bytes: i64) -> Result<i64, String> {
    if (MAX_RESPONSE_MIN_BYTES..=MAX_RESPONSE_MAX_BYTES).contains(&bytes) {
        Ok(bytes)
    } else {
        Err(format!(
            "The response size limit is between {} KB and {} KB.",
            MAX_RESPONSE_MIN_BYTES / 1024,
            MAX_RESPONSE_MAX_BYTES / 1024
        ))
    }
}

/// Each mapping entry names an attribute: 1–256 characters, no control characters.
pub fn check_mapping(m: &AttributeMapping, faults: &mut Faults) {
    for (field, value) in [
        ("mapping.email", &m.email),
        ("mapping.display_name", &m.display_name),
        ("mapping.username", &m.username),
        ("mapping.groups", &m.groups),
    ] {
        faults.check(field, parse_text(value, "attribute name", 256));
    }
}

/// OIDC settings as entered; `secret_required` on create.
pub fn check_oidc(
    o: &OidcSettingsInput,
    secret_required: bool,
    faults: &mut Faults,
) -> Option<(OidcSettings, Option<String>)> {
    let issuer = faults.check("oidc.issuer", parse_http_url(&o.issuer, "issuer URL"));
    let client_id = faults.check("oidc.client_id", parse_client_id(&o.client_id));
    let secret = match &o.client_secret {
        Some(s) => faults
            .check("oidc.client_secret", parse_client_secret(s))
            .map(Some),
        None if secret_required => {
            faults.push("oidc.client_secret", "Enter the client secret.");
            None
        }
        None => Some(None),
    };
    let mut scopes = Vec::new();
    for s in &o.scopes {
        let s = s.trim();
        if s.is_empty() || s.len() > 64 || !s.chars().all(|c| c.is_ascii_graphic() && c != '"') {
            faults.push("oidc.scopes", format!("{s:?} is not a valid scope."));
        } else if s != "openid" && !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    Some((
        OidcSettings {
            issuer: issuer?,
            client_id: client_id?,
            scopes,
        },
        secret?,
    ))
}

/// SAML settings: an entity ID, an SSO URL and at least one signing certificate.
pub fn check_saml(s: &SamlSettings, faults: &mut Faults) -> Option<SamlSettings> {
    let entity_id = faults.check(
        "saml.entity_id",
        parse_text(&s.entity_id, "entity ID", 1024),
    );
    let sso_url = faults.check("saml.sso_url", parse_http_url(&s.sso_url, "SSO URL"));
    let certificates: Vec<String> = s
        .certificates
        .iter()
        .map(|c| normalise_certificate(c))
        .filter(|c| !c.is_empty())
        .collect();
    if certificates.is_empty() {
        faults.push(
            "saml.certificates",
            "A SAML IdP needs at least one signing certificate; without one no response could be trusted.",
        );
    } else if let Some(bad) = certificates.iter().position(|c| {
        !c.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '+' | '/' | '='))
    }) {
        faults.push(
            "saml.certificates",
            format!("Certificate {} is not base64 DER or PEM.", bad + 1),
        );
    }
    Some(SamlSettings {
        entity_id: entity_id?,
        sso_url: sso_url?,
        certificates,
    })
}

/// A certificate as base64 DER: PEM armour and whitespace removed.
pub fn normalise_certificate(raw: &str) -> String {
    raw.lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The return path after sign-in, if it is a path on this site: it starts with one `/`
/// (not `//` or `/\`, so no scheme or host can follow), contains no backslash, control character or encoded slash or
/// backslash, and is at most 1024 characters. Anything else is `None` (go to `/`).
pub fn safe_return_path(raw: &str) -> Option<String> {
    if raw.is_empty() || raw.len() > 1024 || !raw.starts_with('/') {
        return None;
    }
    let lower = raw.to_ascii_lowercase();
    let bytes = raw.as_bytes();
    if bytes.get(1).is_some_and(|b| *b == b'/' || *b == b'\\')
        || raw.contains('\\')
        || raw.chars().any(|c| c.is_control() || c.is_whitespace())
        || lower.contains("%2f")
        || lower.contains("%5c")
        || lower.contains("%09")
        || lower.contains("%0a")
        || lower.contains("%0d")
        || lower.contains("%00")
        || lower.contains("%25")
    {
        return None;
    }
    Some(raw.to_string())
}

/// Validation faults as the error envelope carries them.
pub fn faults_or<T>(faults: Faults, value: Option<T>) -> Result<T, Vec<FieldError>> {
    match (faults.into_result(), value) {
        (Ok(()), Some(v)) => Ok(v),
        (Err(f), _) => Err(f),
        (Ok(()), None) => Err(vec![FieldError::new("", "The request is incomplete.")]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_on_this_site() {
        for ok in ["/", "/portal", "/admin/idps?tab=1", "/a/b#c", "/x:y/z"] {
            assert_eq!(safe_return_path(ok).as_deref(), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "portal",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/%2F%2Fevil.example",
            "/%5cevil.example",
            "/%2fevil",
            "/ /evil",
            "/\t/evil",
            "/\n/evil",
            "/%0d%0aSet-Cookie:x",
            "/%252f%252fevil",
            "http:/evil",
        ] {
            assert_eq!(safe_return_path(bad), None, "{bad:?}");
        }
        assert_eq!(safe_return_path(&format!("/{}", "a".repeat(1100))), None);
    }

    #[test]
    fn saml_settings_need_a_certificate() {
        let mut f = Faults::new();
        let s = SamlSettings {
            entity_id: "https://idp.example/".into(),
            sso_url: "https://idp.example/sso".into(),
            certificates: vec![],
        };
        assert!(check_saml(&s, &mut f).is_some());
        let faults = f.into_vec();
        assert_eq!(faults.len(), 1);
        assert_eq!(faults[0].field, "saml.certificates");
    }

    #[test]
    fn certificates_lose_their_armour() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\nAbC=\n-----END CERTIFICATE-----\n";
        assert_eq!(normalise_certificate(pem), "MIIBAbC=");
    }

    #[test]
    fn urls_must_be_http() {
        assert!(parse_http_url("https://idp.example/x", "URL").is_ok());
        assert!(parse_http_url("http://127.0.0.1:3000", "URL").is_ok());
        for bad in [
            "ftp://x",
            "file:///etc/passwd",
            "https://",
            "https://a b",
            "idp",
        ] {
            assert!(parse_http_url(bad, "URL").is_err(), "{bad}");
        }
    }

    #[test]
    fn presets_differ_by_idp() {
        assert_ne!(
            MappingPreset::EntraId.mapping(IdpKind::Saml),
            MappingPreset::Okta.mapping(IdpKind::Saml)
        );
        assert_eq!(MappingPreset::Okta.mapping(IdpKind::Oidc).groups, "groups");
    }
}
