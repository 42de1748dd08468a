//! The OIDC relying party: discovery (the document's issuer must equal the configured one),
//! the authorization code flow with PKCE S256, `state` and `nonce`, the RFC 9207 `iss`
//! response parameter when present, and the ID token: signature against the provider's JWKS
//! (an unknown `kid` triggers one rate-limited refetch; `alg: none` and HMAC algorithms are
//! refused), `iss`, `aud`, `azp`, `exp`, `iat` and `nonce`. Userinfo's `sub` must match.
//!
//! Each check that has its own reason code is made here explicitly, before openidconnect's
//! verifier repeats it and checks the signature, so a refusal says precisely what failed.

use std::collections::BTreeSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_shared::federation::OidcSettings;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
};
use serde_json::Value;

use super::errors::SignInRefusal;
use super::idp::{mapping, oidc_client_secret, oidc_redirect_uri, oidc_settings};
use super::signin::VerifiedIdentity;
use super::Env;
use crate::clock::Millis;
use crate::store::{FederationRequestRecord, IdpRecord};

/// How long a started sign-in may take.
pub const REQUEST_TTL_MS: i64 = 10 * 60 * 1000;
/// Discovery documents are reused this long.
pub const DISCOVERY_TTL_MS: i64 = 60 * 60 * 1000;
/// At most one JWKS refetch for an unknown `kid` per IdP in this period.
pub const JWKS_REFETCH_EVERY_MS: i64 = 60 * 1000;

/// Signature algorithms accepted on ID tokens: asymmetric only.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// A provider's discovery document and keys, cached per IdP.
#[derive(Clone)]
pub struct CachedProvider {
    pub issuer: String,
    pub metadata: CoreProviderMetadata,
    pub fetched_at: Millis,
    pub last_jwks_refetch: Option<Millis>,
}

fn pkce_purpose(state: &str) -> String {
    format!("oidc-pkce:{state}")
}

fn settings_of(idp: &IdpRecord) -> Result<OidcSettings, SignInRefusal> {
    oidc_settings(idp).ok_or_else(|| SignInRefusal::Internal("unreadable OIDC settings".into()))
}

/// The provider's metadata, from the cache or discovered now.
async fn provider(
    env: Env<'_>,
    now: Millis,
    idp: &IdpRecord,
    settings: &OidcSettings,
) -> Result<CachedProvider, SignInRefusal> {
    if let Some(c) = env.federation.cached(&idp.id) {
        if c.issuer == settings.issuer && now - c.fetched_at < DISCOVERY_TTL_MS {
            return Ok(c);
        }
    }
    let issuer = IssuerUrl::new(settings.issuer.clone())
        .map_err(|e| SignInRefusal::Discovery(format!("issuer URL: {e}")))?;
    // openidconnect refuses a document whose `issuer` differs from the configured one.
    let metadata = CoreProviderMetadata::discover_async(issuer, &env.federation.http)
        .await
        .map_err(|e| SignInRefusal::Discovery(error_chain(&e)))?;
    let cached = CachedProvider {
        issuer: settings.issuer.clone(),
        metadata,
        fetched_at: now,
        last_jwks_refetch: None,
    };
    env.federation.store_cached(&idp.id, cached.clone());
    Ok(cached)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s.chars().take(500).collect()
}

/// Starts a sign-in: remembers state, nonce and PKCE verifier (sealed) bound to the browser,
/// and returns the provider's authorization URL.
pub async fn begin(
    env: Env<'_>,
    now: Millis,
    idp: &IdpRecord,
    binding_hash: &str,
    return_to: &str,
) -> Result<String, SignInRefusal> {
    let settings = settings_of(idp)?;
    let p = provider(env, now, idp, &settings).await?;
    let redirect = RedirectUrl::new(oidc_redirect_uri(env.settings, &idp.id))
        .map_err(|e| SignInRefusal::Internal(e.to_string()))?;
    let client = CoreClient::from_provider_metadata(
        p.metadata.clone(),
        ClientId::new(settings.client_id.clone()),
        None,
    )
    .set_redirect_uri(redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    let mut scopes: BTreeSet<String> = ["email", "profile"].map(String::from).into();
    scopes.extend(settings.scopes.iter().cloned());
    for s in scopes {
        req = req.add_scope(Scope::new(s));
    }
    let (url, csrf, nonce) = req.set_pkce_challenge(challenge).url();
    let id = csrf.secret().clone();
    env.store
        .create_federation_request(FederationRequestRecord {
            pkce_verifier_enc: Some(
                env.master
                    .seal(&pkce_purpose(&id), verifier.secret().as_bytes()),
            ),
            id,
            idp_id: idp.id.clone(),
            binding_hash: binding_hash.to_string(),
            nonce: Some(nonce.secret().clone()),
            return_to: return_to.to_string(),
            created_at: now,
            expires_at: now + REQUEST_TTL_MS,
        })
        .await?;
    Ok(url.to_string())
}

/// The query of the redirect back from the provider.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Finishes a sign-in: the request is consumed (once), the code exchanged with its PKCE
/// verifier, the ID token and userinfo checked. Returns the identity and the return path.
pub async fn finish(
    env: Env<'_>,
    now: Millis,
    idp: &IdpRecord,
    binding_hash: Option<&str>,
    q: CallbackQuery,
) -> Result<(VerifiedIdentity, String), SignInRefusal> {
    let settings = settings_of(idp)?;
    let state_param = q.state.as_deref().ok_or(SignInRefusal::UnknownState)?;
    let binding = binding_hash.ok_or(SignInRefusal::BindingMissing)?;
    let request = env
        .store
        .consume_federation_request(state_param, &idp.id, binding, now)
        .await?
        .ok_or(SignInRefusal::UnknownState)?;
    if let Some(err) = q.error {
        let desc = q.error_description.unwrap_or_default();
        return Err(SignInRefusal::IdpError(
            format!("{err}: {desc}").chars().take(300).collect(),
        ));
    }
    let p = provider(env, now, idp, &settings).await?;
    if let Some(iss) = &q.iss {
        if iss != p.metadata.issuer().as_str() {
            return Err(SignInRefusal::IssParameter);
        }
    }
    let code = q.code.ok_or(SignInRefusal::MissingCode)?;
    let verifier = request
        .pkce_verifier_enc
        .as_ref()
        .and_then(|s| env.master.open(&pkce_purpose(&request.id), s).ok())
        .and_then(|v| String::from_utf8(v.to_vec()).ok())
        .ok_or_else(|| SignInRefusal::Internal("PKCE verifier unreadable".into()))?;
    let nonce = Nonce::new(request.nonce.clone().unwrap_or_default());
    let secret = oidc_client_secret(env, idp).map(ClientSecret::new);
    let redirect = RedirectUrl::new(oidc_redirect_uri(env.settings, &idp.id))
        .map_err(|e| SignInRefusal::Internal(e.to_string()))?;
    let client = CoreClient::from_provider_metadata(
        p.metadata.clone(),
        ClientId::new(settings.client_id.clone()),
        secret.clone(),
    )
    .set_redirect_uri(redirect.clone());
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| SignInRefusal::TokenExchange(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&env.federation.http)
        .await
        .map_err(|e| SignInRefusal::TokenExchange(token_error(&e)))?;
    let id_token = token.id_token().ok_or(SignInRefusal::NoIdToken)?;
    let check = |metadata: CoreProviderMetadata| {
        check_id_token(
            id_token,
            metadata,
            &settings,
            secret.clone(),
            &nonce,
            now,
            idp.clock_skew_secs,
        )
    };
    // One refetch of the JWKS for a key we do not know yet, at most once a minute per IdP.
    let checked = match check(p.metadata.clone()) {
        Err(SignInRefusal::IdToken(UNKNOWN_KEY, _))
            if p.last_jwks_refetch
                .is_none_or(|t| now - t >= JWKS_REFETCH_EVERY_MS) =>
        {
            let jwks = CoreJsonWebKeySet::fetch_async(p.metadata.jwks_uri(), &env.federation.http)
                .await
                .map_err(|e| SignInRefusal::Discovery(format!("JWKS: {}", error_chain(&e))))?;
            let metadata = p.metadata.clone().set_jwks(jwks);
            env.federation.store_cached(
                &idp.id,
                CachedProvider {
                    metadata: metadata.clone(),
                    last_jwks_refetch: Some(now),
                    ..p.clone()
                },
            );
            check(metadata)?
        }
        other => other?,
    };

    let CheckedIdToken {
        mut claims,
        amr,
        acr,
    } = checked;
    if let Some(endpoint) = p.metadata.userinfo_endpoint() {
        let info = userinfo(env, endpoint.as_str(), token.access_token().secret()).await?;
        if info.get("sub").and_then(Value::as_str) != claims.get("sub").and_then(Value::as_str) {
            return Err(SignInRefusal::UserinfoSubject);
        }
        if let (Value::Object(c), Value::Object(i)) = (&mut claims, info) {
            for (k, v) in i {
                c.entry(k).or_insert(v);
            }
        }
    }
    let identity = identity_from_claims(idp, &claims, &amr, acr.as_deref())?;
    Ok((identity, request.return_to))
}

/// The reason code of an ID token signed with a key the JWKS does not have.
const UNKNOWN_KEY: &str = "oidc_unknown_key";

/// An ID token that passed every check.
#[derive(Debug, Clone)]
pub struct CheckedIdToken {
    /// The token's claims (userinfo not merged in yet).
    pub claims: Value,
    pub amr: Vec<String>,
    pub acr: Option<String>,
}

/// Every check of the ID token the token endpoint returned; no I/O. First the checks with
/// their own reason codes (`precheck`: `alg`, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`,
/// `sub`), then the signature against the JWKS in `metadata` (allow-listed asymmetric
/// algorithms only) with openidconnect's own claim checks at `now`. A `kid` the JWKS lacks
/// is refused as `oidc_unknown_key`, after which the caller may refetch the JWKS and call
/// this again.
pub fn check_id_token(
    id_token: &CoreIdToken,
    metadata: CoreProviderMetadata,
    settings: &OidcSettings,
    client_secret: Option<ClientSecret>,
    nonce: &Nonce,
    now: Millis,
    skew_secs: i64,
) -> Result<CheckedIdToken, SignInRefusal> {
    let claims = precheck(
        &id_token.to_string(),
        settings,
        nonce.secret(),
        now,
        skew_secs,
    )?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        client_secret,
    );
    let now_chrono = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now);
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(ALLOWED_ALGS)
        .set_time_fn(move || now_chrono.unwrap_or_default())
        .set_other_audience_verifier_fn(|_| false);
    let verified = id_token
        .claims(&verifier, nonce)
        .map_err(|e| claims_error(&e))?;
    Ok(CheckedIdToken {
        claims,
        amr: verified
            .auth_method_refs()
            .map(|refs| refs.iter().map(|a| a.as_str().to_string()).collect())
            .unwrap_or_default(),
        acr: verified.auth_context_ref().map(|a| a.as_str().to_string()),
    })
}

fn token_error<RE, T>(e: &RequestTokenError<RE, T>) -> String
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    match e {
        RequestTokenError::ServerResponse(r) => r.to_string().chars().take(300).collect(),
        other => error_chain(other),
    }
}

fn claims_error(e: &ClaimsVerificationError) -> SignInRefusal {
    let code = match e {
        ClaimsVerificationError::Expired(_) => "oidc_expired",
        ClaimsVerificationError::InvalidAudience(_) => "oidc_audience",
        ClaimsVerificationError::InvalidIssuer(_) => "oidc_issuer",
        ClaimsVerificationError::InvalidNonce(_) => "oidc_nonce",
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => UNKNOWN_KEY,
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::DisallowedAlg(_)
            | SignatureVerificationError::UnsupportedAlg(_)
            | SignatureVerificationError::NoSignature,
        ) => "oidc_alg",
        ClaimsVerificationError::SignatureVerification(_) => "oidc_signature",
        _ => "oidc_id_token",
    };
    SignInRefusal::IdToken(code, error_chain(e))
}

fn decode_part(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The claim checks with their own reason codes, made on the (not yet verified) token so the
/// refusal is precise; the signature is checked afterwards, before anything is used.
pub fn precheck(
    raw: &str,
    settings: &OidcSettings,
    nonce: &str,
    now: Millis,
    skew_secs: i64,
) -> Result<Value, SignInRefusal> {
    let bad = |code: &'static str, d: &str| SignInRefusal::IdToken(code, d.to_string());
    let parts: Vec<&str> = raw.split('.').collect();
    if parts.len() != 3 {
        return Err(bad("oidc_malformed", "not a compact JWS"));
    }
    let header = decode_part(parts[0]).ok_or_else(|| bad("oidc_malformed", "header"))?;
    let payload = decode_part(parts[1]).ok_or_else(|| bad("oidc_malformed", "payload"))?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg.eq_ignore_ascii_case("none") || alg.is_empty() || alg.starts_with("HS") {
        return Err(bad("oidc_alg", &format!("alg {alg:?} is not accepted")));
    }
    let iss = payload.get("iss").and_then(Value::as_str).unwrap_or("");
    if iss != settings.issuer {
        return Err(bad("oidc_issuer", &format!("iss {iss:?}")));
    }
    let aud: Vec<&str> = match payload.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !aud.contains(&settings.client_id.as_str()) {
        return Err(bad("oidc_audience", &format!("aud {aud:?}")));
    }
    match payload.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != settings.client_id => {
            return Err(bad("oidc_azp", &format!("azp {azp:?}")))
        }
        None if aud.len() > 1 => return Err(bad("oidc_azp", "several audiences and no azp")),
        _ => {}
    }
    if aud.len() > 1 {
        // openidconnect's verifier refuses other audiences we do not trust; say so precisely.
        return Err(bad("oidc_audience", &format!("other audiences {aud:?}")));
    }
    let now_s = now / 1000;
    let exp = payload.get("exp").and_then(Value::as_i64);
    if exp.is_none_or(|e| e + skew_secs <= now_s) {
        return Err(bad("oidc_expired", &format!("exp {exp:?}, now {now_s}")));
    }
    let iat = payload.get("iat").and_then(Value::as_i64);
    if iat.is_none_or(|i| i > now_s + skew_secs) {
        return Err(bad("oidc_iat", &format!("iat {iat:?}, now {now_s}")));
    }
    let got = payload.get("nonce").and_then(Value::as_str);
    if got != Some(nonce) || nonce.is_empty() {
        return Err(bad(
            "oidc_nonce",
            if got.is_none() {
                "nonce missing"
            } else {
                "nonce differs"
            },
        ));
    }
    if payload
        .get("sub")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(SignInRefusal::MissingSubject);
    }
    Ok(payload)
}

async fn userinfo(env: Env<'_>, url: &str, access_token: &str) -> Result<Value, SignInRefusal> {
    let resp = env
        .federation
        .http
        .get(url)
        .bearer_auth(access_token)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| SignInRefusal::Userinfo(error_chain(&e)))?;
    if !resp.status().is_success() {
        return Err(SignInRefusal::Userinfo(format!(
            "status {}",
            resp.status().as_u16()
        )));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| SignInRefusal::Userinfo(error_chain(&e)))?;
    if bytes.len() > 256 * 1024 {
        return Err(SignInRefusal::Userinfo("response too large".into()));
    }
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| SignInRefusal::Userinfo("not a JSON object".into()))
}

/// Whether `amr`/`acr` say more than one factor was used.
pub fn oidc_mfa(amr: &[String], acr: Option<&str>) -> bool {
    const SECOND: [&str; 9] = [
        "otp", "hwk", "sms", "fpt", "face", "iris", "retina", "sc", "pop",
    ];
    amr.iter().any(|a| a == "mfa")
        || (amr.iter().any(|a| a == "pwd") && amr.iter().any(|a| SECOND.contains(&a.as_str())))
        || acr.is_some_and(|a| {
            let a = a.to_ascii_lowercase();
            a.contains("mfa") || a.contains("multi-factor") || a.contains("multifactor")
        })
}

fn claim_strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// The Gatehouse identity the claims describe, through the IdP's mapping.
pub fn identity_from_claims(
    idp: &IdpRecord,
    claims: &Value,
    amr: &[String],
    acr: Option<&str>,
) -> Result<VerifiedIdentity, SignInRefusal> {
    let m = mapping(idp);
    let first = |name: &str| claim_strings(claims.get(name)).into_iter().next();
    let subject = first("sub")
        .filter(|s| !s.is_empty())
        .ok_or(SignInRefusal::MissingSubject)?;
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    let mut evidence = Vec::new();
    if !amr.is_empty() {
        evidence.push(format!("amr={}", amr.join(" ")));
    }
    if let Some(a) = acr {
        evidence.push(format!("acr={a}"));
    }
    Ok(VerifiedIdentity {
        subject,
        email: first(&m.email),
        email_verified,
        display_name: first(&m.display_name),
        username: first(&m.username),
        groups: claim_strings(claims.get(&m.groups)),
        mfa: oidc_mfa(amr, acr),
        mfa_evidence: (!evidence.is_empty()).then(|| evidence.join("; ")),
        method: "oidc",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(header: &Value, payload: &Value) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        )
    }

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: "https://idp.example".into(),
            client_id: "gh".into(),
            scopes: vec![],
        }
    }

    fn code_of(r: Result<Value, SignInRefusal>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn prechecks_name_each_fault() {
        let now = 1_700_000_000_000;
        let good = serde_json::json!({"iss": "https://idp.example", "aud": "gh", "sub": "a",
            "exp": now / 1000 + 300, "iat": now / 1000, "nonce": "n"});
        let rs = serde_json::json!({"alg": "RS256", "kid": "k"});
        let check = |h: &Value, p: &Value| code_of(precheck(&jwt(h, p), &settings(), "n", now, 60));
        assert_eq!(check(&rs, &good), "ok");
        let with = |k: &str, v: Value| {
            let mut p = good.clone();
            p[k] = v;
            p
        };
        assert_eq!(
            check(&serde_json::json!({"alg": "none"}), &good),
            "oidc_alg"
        );
        assert_eq!(
            check(&serde_json::json!({"alg": "HS256"}), &good),
            "oidc_alg"
        );
        assert_eq!(
            check(&rs, &with("iss", "https://evil".into())),
            "oidc_issuer"
        );
        assert_eq!(check(&rs, &with("aud", "other".into())), "oidc_audience");
        assert_eq!(
            check(&rs, &with("aud", serde_json::json!(["gh", "x"]))),
            "oidc_azp"
        );
        assert_eq!(check(&rs, &with("azp", "x".into())), "oidc_azp");
        assert_eq!(
            check(&rs, &with("exp", (now / 1000 - 61).into())),
            "oidc_expired"
        );
        assert_eq!(check(&rs, &with("exp", (now / 1000 - 30).into())), "ok");
        assert_eq!(
            check(&rs, &with("iat", (now / 1000 + 3600).into())),
            "oidc_iat"
        );
        assert_eq!(check(&rs, &with("nonce", "m".into())), "oidc_nonce");
        let mut no_nonce = good.clone();
        no_nonce.as_object_mut().map(|o| o.remove("nonce"));
        assert_eq!(check(&rs, &no_nonce), "oidc_nonce");
        assert_eq!(
            code_of(precheck("a.b", &settings(), "n", now, 60)),
            "oidc_malformed"
        );
    }

    /// A provider's metadata with a JWKS holding `rsa` as `kid` "k1", and a token signer.
    fn rs256_provider() -> (CoreProviderMetadata, impl Fn(&Value, &Value) -> String) {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let jwks: CoreJsonWebKeySet = serde_json::from_value(serde_json::json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
        }]}))
        .unwrap();
        let metadata: CoreProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": "https://idp.example",
            "authorization_endpoint": "https://idp.example/auth",
            "jwks_uri": "https://idp.example/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }))
        .unwrap();
        let key = openssl::pkey::PKey::from_rsa(rsa).unwrap();
        let sign = move |h: &Value, p: &Value| {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(h.to_string()),
                URL_SAFE_NO_PAD.encode(p.to_string())
            );
            let mut s =
                openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
            s.update(input.as_bytes()).unwrap();
            format!(
                "{input}.{}",
                URL_SAFE_NO_PAD.encode(s.sign_to_vec().unwrap())
            )
        };
        (metadata.set_jwks(jwks), sign)
    }

    #[test]
    fn id_token_checks_verify_the_signature_and_keep_their_reason_codes() {
        use std::str::FromStr as _;
        let (metadata, sign) = rs256_provider();
        let now = 1_700_000_000_000;
        let good = serde_json::json!({"iss": "https://idp.example", "aud": "gh", "sub": "a",
            "exp": now / 1000 + 300, "iat": now / 1000, "nonce": "n", "amr": ["pwd", "otp"],
            "acr": "loa2", "groups": ["g1"]});
        let rs = serde_json::json!({"alg": "RS256", "kid": "k1"});
        let check = |jwt: &str| {
            check_id_token(
                &CoreIdToken::from_str(jwt).unwrap(),
                metadata.clone(),
                &settings(),
                None,
                &Nonce::new("n".into()),
                now,
                60,
            )
        };
        let ok = check(&sign(&rs, &good)).unwrap();
        assert_eq!(ok.claims["sub"], "a");
        assert_eq!(ok.amr, ["pwd", "otp"]);
        assert_eq!(ok.acr.as_deref(), Some("loa2"));

        let code = |r: Result<CheckedIdToken, SignInRefusal>| r.err().map(|e| e.code());
        let jwt = sign(&rs, &good);
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
        bytes[7] ^= 1;
        let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(code(check(&forged)), Some("oidc_signature"));
        // Claims changed after signing (every precheck still passes): the signature no
        // longer covers them.
        let mut as_b = good.clone();
        as_b["sub"] = "b".into();
        let swapped = format!("{}.{sig}", sign(&rs, &as_b).rsplit_once('.').unwrap().0);
        assert_eq!(code(check(&swapped)), Some("oidc_signature"));
        let unknown = serde_json::json!({"alg": "RS256", "kid": "k2"});
        assert_eq!(code(check(&sign(&unknown, &good))), Some(UNKNOWN_KEY));
        let mut wrong_nonce = good.clone();
        wrong_nonce["nonce"] = "m".into();
        assert_eq!(code(check(&sign(&rs, &wrong_nonce))), Some("oidc_nonce"));
    }

    #[test]
    fn mfa_from_amr_and_acr() {
        let v = |xs: &[&str]| xs.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert!(oidc_mfa(&v(&["mfa"]), None));
        assert!(oidc_mfa(&v(&["pwd", "otp"]), None));
        assert!(!oidc_mfa(&v(&["pwd"]), None));
        assert!(!oidc_mfa(&v(&["otp"]), None));
        assert!(oidc_mfa(&[], Some("urn:example:mfa")));
        assert!(!oidc_mfa(&[], Some("1")));
    }
}
