//! The SAML ACS steps of a federated sign-in, apart from HTTP: every check on a posted
//! `SAMLResponse` the SAML core cannot make alone (the body's size, this browser's
//! outstanding requests, the replay guard to commit with the sign-in), and the identity
//! the verified assertion names. The handler in `routes.rs` reads the body and the binding
//! cookie; [`super::signin::complete`] turns the identity into a session.

use time::Duration;

use super::errors::SignInRefusal;
use super::idp;
use super::saml;
use super::signin::VerifiedIdentity;
use crate::clock::Millis;
use crate::store::{GuardedRequest, IdpRecord, ReplayGuard, Store};

/// An ACS body larger than this is refused before it is decoded (base64 of the largest
/// allowed document, plus form overhead).
pub const ACS_BODY_MAX: usize = 6 * 1024 * 1024;

pub fn saml_idp_settings(idp: &IdpRecord) -> Result<saml::IdpSettings, SignInRefusal> {
    let s = idp::saml_settings(idp)
        .ok_or_else(|| SignInRefusal::Internal("unreadable SAML settings".into()))?;
    if s.certificates.is_empty() {
        return Err(SignInRefusal::Saml(saml::Refusal::NoCertificateConfigured));
    }
    Ok(saml::IdpSettings {
        entity_id: s.entity_id,
        sso_url: s.sso_url,
        certificates: s.certificates,
        allow_sha1: idp.allow_sha1,
    })
}

/// Reads one field of an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Every ACS check the SAML core cannot make alone: size before anything, this browser's
/// outstanding requests, and the replay guard to commit with the sign-in (`InResponseTo`
/// consumed once, the assertion ID remembered).
///
/// `binding_hash` is the hash of the browser's SAML binding cookie, if it sent one; `sp`
/// is Gatehouse's side of this IdP.
pub async fn acs(
    store: &dyn Store,
    now: Millis,
    sp: saml::SpSettings,
    binding_hash: Option<String>,
    idp: &IdpRecord,
    body: &[u8],
) -> Result<(VerifiedIdentity, ReplayGuard), SignInRefusal> {
    let settings = saml_idp_settings(idp)?;
    let max_bytes = usize::try_from(idp.max_response_bytes).unwrap_or(256 * 1024);
    // base64 grows a document by 4/3; URL encoding may add more. Refuse clearly oversized
    // bodies before decoding anything.
    if body.len() > ACS_BODY_MAX || body.len() > max_bytes.saturating_mul(3) {
        return Err(SignInRefusal::Saml(saml::Refusal::TooLarge));
    }
    let response =
        form_field(body, "SAMLResponse").ok_or(SignInRefusal::Saml(saml::Refusal::NotBase64))?;
    let hash = binding_hash;
    let outstanding = match &hash {
        Some(h) => store.outstanding_requests(&idp.id, h, now).await?,
        None => Vec::new(),
    };
    let skew = Duration::seconds(idp.clock_skew_secs);
    let allow_unsolicited = idp.allow_idp_initiated;
    // Parsing and xmlsec take a few hundred microseconds of CPU: off the async workers, so
    // they stay free to carry other sign-ins' database round trips (one of which may hold
    // the audit chain's head until its commit is sent).
    let verified = tokio::task::spawn_blocking(move || {
        let expect = saml::Expectations {
            outstanding_request_ids: &outstanding,
            allow_unsolicited,
            clock_skew: skew,
            now: crate::clock::to_datetime(now),
            max_bytes,
        };
        saml::verify_response(&response, &sp, &settings, &expect)
    })
    .await
    .map_err(|e| SignInRefusal::Internal(format!("SAML verification task: {e}")))?
    .map_err(SignInRefusal::Saml)?;
    let keep_until = crate::clock::to_millis(verified.not_on_or_after + skew).max(now + 1);
    let request = match (&verified.in_response_to, hash) {
        (Some(irt), Some(binding_hash)) => Some(GuardedRequest {
            id: irt.clone(),
            binding_hash,
        }),
        (Some(_), None) => return Err(SignInRefusal::Saml(saml::Refusal::UnknownInResponseTo)),
        (None, _) if idp.allow_idp_initiated => None,
        (None, _) => return Err(SignInRefusal::Saml(saml::Refusal::Unsolicited)),
    };
    // Consumed once and the assertion ID remembered, durably, in the sign-in's own commit
    // (or alone, should the sign-in be refused).
    let guard = ReplayGuard {
        idp_id: idp.id.clone(),
        request,
        now,
        assertion_id: verified.assertion_id.clone(),
        keep_until,
    };
    Ok((identity_from_assertion(idp, &verified), guard))
}

/// SAML AuthnContextClassRef values that mean more than one factor.
pub fn saml_mfa(class_ref: Option<&str>) -> bool {
    const MFA: [&str; 6] = [
        "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI",
        "http://schemas.microsoft.com/claims/multipleauthn",
    ];
    class_ref.is_some_and(|c| {
        MFA.contains(&c) || c.to_ascii_lowercase().contains("mfa") || c.contains("TwoFactor")
    })
}

pub fn identity_from_assertion(idp: &IdpRecord, a: &saml::VerifiedAssertion) -> VerifiedIdentity {
    let m = idp::mapping(idp);
    let first = |name: &str| a.attributes.get(name).and_then(|v| v.first()).cloned();
    VerifiedIdentity {
        subject: a.name_id.clone(),
        email: first(&m.email).or_else(|| {
            (a.name_id_format.as_deref()
                == Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"))
            .then(|| a.name_id.clone())
        }),
        email_verified: true,
        display_name: first(&m.display_name),
        username: first(&m.username),
        groups: a.attributes.get(&m.groups).cloned().unwrap_or_default(),
        mfa: saml_mfa(a.authn_context_class_ref.as_deref()),
        mfa_evidence: a
            .authn_context_class_ref
            .as_ref()
            .map(|c| format!("AuthnContextClassRef={c}")),
        method: "saml",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfa_classes() {
        assert!(saml_mfa(Some(
            "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract"
        )));
        assert!(!saml_mfa(Some(
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        )));
        assert!(!saml_mfa(None));
    }
}
