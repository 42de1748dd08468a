//! The SAML 2.0 service provider's pure core: IdP metadata import, SP metadata, the
//! AuthnRequest (HTTP-Redirect binding) and Response verification. No I/O and no clock:
//! the caller passes `now`, keeps outstanding request IDs per browser, and remembers
//! assertion IDs (replay) in the database.
//!
//! Contract between this module and the federation flow (`federation::routes`):
//! - `verify_response` performs every check in docs/SAML.md that needs only the document,
//!   the configuration and `now`; the caller then (1) consumes `in_response_to` from this
//!   browser's outstanding requests and (2) records `assertion_id` until `not_on_or_after`,
//!   refusing with `Refusal::Replayed` / `Refusal::UnknownInResponseTo` codes when that fails.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

/// What Gatehouse is, for one IdP (entity ID and ACS URL are per IdP).
#[derive(Debug, Clone)]
pub struct SpSettings {
    pub entity_id: String,
    pub acs_url: String,
}

/// An IdP as the administrator configured it.
#[derive(Debug, Clone)]
pub struct IdpSettings {
    pub entity_id: String,
    /// The IdP's SSO endpoint for the HTTP-Redirect binding.
    pub sso_url: String,
    /// Signing certificates, base64 DER (PEM armour accepted and stripped). More than one
    /// during a rollover. Never empty for a usable IdP.
    pub certificates: Vec<String>,
    /// RSA-SHA1 / SHA-1 digests accepted only when an administrator enabled it.
    pub allow_sha1: bool,
}

/// What the IdP's metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_url: String,
    pub certificates: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    /// The request ID (`_` + random); the caller binds it to the browser.
    pub id: String,
    /// The IdP SSO URL with `SAMLRequest` (and `RelayState`) as query parameters.
    pub redirect_url: String,
}

/// What the caller knows that the document must agree with.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// Request IDs this browser has outstanding for this IdP.
    pub outstanding_request_ids: &'a [String],
    /// IdP-initiated sign-in (no InResponseTo) allowed for this IdP.
    pub allow_unsolicited: bool,
    pub clock_skew: Duration,
    pub now: OffsetDateTime,
    /// Size limit of the decoded document, checked before parsing.
    pub max_bytes: usize,
}

/// A response that passed every document check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub assertion_id: String,
    pub in_response_to: Option<String>,
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// Attribute name → values, each value read as the element's full text.
    pub attributes: BTreeMap<String, Vec<String>>,
    pub authn_context_class_ref: Option<String>,
    /// The earliest NotOnOrAfter (conditions / subject confirmation): keep the ID this long.
    pub not_on_or_after: OffsetDateTime,
    pub session_index: Option<String>,
}

/// The most characters of a value read from an unverified response that a refusal keeps.
pub const CAPPED_CHARS: usize = 128;
/// What follows a value cut to [`CAPPED_CHARS`].
pub const TRUNCATED: &str = "…[truncated]";

/// `value`, or its first [`CAPPED_CHARS`] characters (cut between characters, never inside
/// one) followed by [`TRUNCATED`]. Anyone can post a SAML response, so a value read from one
/// before its signature verifies (a status code, an algorithm name) is capped before it
/// reaches the person's page or the audit trail.
pub fn capped(value: &str) -> String {
    match value.char_indices().nth(CAPPED_CHARS) {
        None => value.to_string(),
        Some((cut, _)) => format!("{}{TRUNCATED}", &value[..cut]),
    }
}

/// Why a response was refused. `code()` is the stable reason code shown to the person and
/// written to the audit trail; `message()` is for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    TooLarge,
    NotBase64,
    MalformedXml,
    DoctypeForbidden,
    NotAResponse,
    /// The top-level StatusCode value, [`capped`].
    StatusNotSuccess(String),
    Unsigned,
    SignatureInvalid,
    /// The signature does not cover the assertion that would be used (wrapping).
    SignatureWrapping,
    /// The refused algorithm URI, [`capped`].
    AlgorithmForbidden(String),
    /// The IdP has no signing certificate configured.
    NoCertificateConfigured,
    AssertionCount(usize),
    IssuerMismatch,
    AudienceMismatch,
    DestinationMismatch,
    RecipientMismatch,
    Expired,
    NotYetValid,
    Unsolicited,
    UnknownInResponseTo,
    Replayed,
    MissingNameId,
    /// Signed correctly, but by a key whose certificate (in KeyInfo) is not configured for
    /// this IdP — typically an IdP certificate rollover the administrator has not yet added.
    UntrustedKey,
    /// An assertion nested inside the assertion (e.g. in Advice): never consumed.
    NestedAssertion,
    /// The subject confirmation (or the conditions) give no NotOnOrAfter, so the assertion
    /// could be replayed for ever.
    MissingValidity,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge => "saml_too_large",
            Self::NotBase64 => "saml_not_base64",
            Self::MalformedXml => "saml_malformed",
            Self::DoctypeForbidden => "saml_doctype",
            Self::NotAResponse => "saml_not_response",
            Self::StatusNotSuccess(_) => "saml_status",
            Self::Unsigned => "saml_unsigned",
            Self::SignatureInvalid => "saml_signature_invalid",
            Self::SignatureWrapping => "saml_signature_wrapping",
            Self::AlgorithmForbidden(_) => "saml_algorithm_forbidden",
            Self::NoCertificateConfigured => "saml_no_certificate",
            Self::AssertionCount(_) => "saml_assertion_count",
            Self::IssuerMismatch => "saml_issuer",
            Self::AudienceMismatch => "saml_audience",
            Self::DestinationMismatch => "saml_destination",
            Self::RecipientMismatch => "saml_recipient",
            Self::Expired => "saml_expired",
            Self::NotYetValid => "saml_not_yet_valid",
            Self::Unsolicited => "saml_unsolicited",
            Self::UnknownInResponseTo => "saml_in_response_to",
            Self::Replayed => "saml_replayed",
            Self::MissingNameId => "saml_no_name_id",
            Self::UntrustedKey => "saml_untrusted_key",
            Self::NestedAssertion => "saml_nested_assertion",
            Self::MissingValidity => "saml_no_validity",
        }
    }

    /// What went wrong, in words for the person who tried to sign in. Never includes document
    /// content (it is attacker-controlled) except the IdP's own status code URI.
    pub fn message(&self) -> String {
        match self {
            Self::TooLarge => "The sign-in response from your identity provider is too large.".into(),
            Self::NotBase64 | Self::MalformedXml | Self::NotAResponse => {
                "The sign-in response from your identity provider could not be read.".into()
            }
            Self::DoctypeForbidden => {
                "The sign-in response contains a document type declaration, which is not allowed.".into()
            }
            Self::StatusNotSuccess(status) => {
                format!("Your identity provider did not sign you in (status: {status}).")
            }
            Self::Unsigned => "The sign-in response is not signed by your identity provider.".into(),
            Self::SignatureInvalid => {
                "The signature on the sign-in response does not verify; it may have been altered.".into()
            }
            Self::SignatureWrapping => {
                "The sign-in response was rearranged around its signature and cannot be trusted.".into()
            }
            Self::AlgorithmForbidden(alg) => {
                format!("The sign-in response uses an algorithm that is not allowed ({alg}).")
            }
            Self::NoCertificateConfigured => {
                "This identity provider has no signing certificate configured; an administrator must add one.".into()
            }
            Self::AssertionCount(n) => {
                format!("The sign-in response must contain exactly one assertion; it contains {n}.")
            }
            Self::IssuerMismatch => "The sign-in response was issued by a different identity provider.".into(),
            Self::AudienceMismatch => "The sign-in response was meant for a different service.".into(),
            Self::DestinationMismatch | Self::RecipientMismatch => {
                "The sign-in response was sent to a different address.".into()
            }
            Self::Expired => "The sign-in response has expired; please sign in again.".into(),
            Self::NotYetValid => {
                "The sign-in response is not valid yet; the identity provider's clock may be wrong.".into()
            }
            Self::Unsolicited => {
                "Sign-in started at the identity provider is not allowed here; start from Gatehouse.".into()
            }
            Self::UnknownInResponseTo => {
                "The sign-in response does not answer a sign-in started in this browser; please start again.".into()
            }
            Self::Replayed => "This sign-in response has already been used; please sign in again.".into(),
            Self::MissingNameId => "The sign-in response does not say who you are (no NameID).".into(),
            Self::UntrustedKey => {
                "The sign-in response is signed with a certificate that is not configured for this identity provider.".into()
            }
            Self::NestedAssertion => "The sign-in response contains a nested assertion, which is not allowed.".into(),
            Self::MissingValidity => "The sign-in response does not say until when it is valid.".into(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for Refusal {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MetadataError(pub String);

mod metadata;
mod request;
mod verify;
pub(crate) mod xml;

pub use metadata::{normalize_certificate, parse_idp_metadata, sp_metadata};
pub use request::authn_request;
pub use verify::verify_response;

/// The default size limit of a decoded Response (issue 3: 256 KB).
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024;
/// The default clock skew (issue 3: 60 s).
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::seconds(60);

#[cfg(test)]
mod tests {
    use super::{capped, CAPPED_CHARS, TRUNCATED};

    #[test]
    fn unverified_values_are_capped_between_characters_and_marked() {
        assert_eq!(capped("urn:x:Requester"), "urn:x:Requester");
        let exact = "a".repeat(CAPPED_CHARS);
        assert_eq!(capped(&exact), exact, "128 characters are kept whole");
        // Two-, three- and four-byte characters: the cut never splits one.
        for c in ['é', '€', '𝄞'] {
            let long: String = std::iter::repeat_n(c, 10_000).collect();
            let cut = capped(&long);
            let kept = cut.strip_suffix(TRUNCATED).expect("marked as truncated");
            assert_eq!(kept.chars().count(), CAPPED_CHARS);
            assert!(kept.chars().all(|k| k == c));
        }
    }
}
