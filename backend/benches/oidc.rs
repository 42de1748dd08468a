//! The OIDC callback's CPU work once the token endpoint has answered, run with
//! `cargo bench -p gatehouse --bench oidc` (needs nothing outside the crate):
//! - `callback_checks`: what `oidc::finish` does with the ID token, all of it — the checks
//!   with their own reason codes (`alg`, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, `sub`),
//!   the RS256 signature against a JWKS through openidconnect, its own claim checks, and the
//!   claim mapping to a Gatehouse identity — on a token signed here with a fresh RSA-2048 key;
//! - beside it, in the same run, the raw cost of one RS256 signature check on the same bytes:
//!   `rsa_verify_rustcrypto` (the `rsa` crate, which openidconnect uses) and
//!   `rsa_verify_openssl` (OpenSSL), so the share of the signature is measured, not assumed.

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark should stop loudly on any failure"
)]

use std::str::FromStr as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse::federation::oidc::{check_id_token, identity_from_claims};
use gatehouse::store::IdpRecord;
use gatehouse_shared::federation::OidcSettings;
use openidconnect::core::{CoreIdToken, CoreJsonWebKeySet, CoreProviderMetadata};
use openidconnect::{ClientSecret, Nonce};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier as _;
use serde_json::json;

const ISSUER: &str = "https://idp.bench.example";
const CLIENT_ID: &str = "gatehouse-bench";
const NONCE: &str = "bench-nonce-0123456789abcdef";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[expect(
    clippy::disallowed_methods,
    reason = "a benchmark outside the app: the token it mints is dated now, like a real one"
)]
fn bench(c: &mut Criterion) {
    // The provider: a fresh RSA-2048 key, published in a JWKS beside two other keys.
    let rsa = Rsa::generate(2048).unwrap();
    let key = PKey::from_rsa(rsa.clone()).unwrap();
    let jwk = |kid: &str, r: &Rsa<openssl::pkey::Private>| {
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
               "n": b64(&r.n().to_vec()), "e": b64(&r.e().to_vec())})
    };
    let others: Vec<_> = (0..2).map(|_| Rsa::generate(2048).unwrap()).collect();
    let jwks: CoreJsonWebKeySet = serde_json::from_value(json!({"keys": [
        jwk("old-1", &others[0]), jwk("bench-1", &rsa), jwk("next-1", &others[1]),
    ]}))
    .unwrap();
    let metadata: CoreProviderMetadata = serde_json::from_value(json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{ISSUER}/auth"),
        "token_endpoint": format!("{ISSUER}/token"),
        "userinfo_endpoint": format!("{ISSUER}/me"),
        "jwks_uri": format!("{ISSUER}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .unwrap();
    let metadata = metadata.set_jwks(jwks);

    // The ID token, as a provider like Keycloak or Okta sends it.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "bench-1"});
    let payload = json!({
        "iss": ISSUER, "aud": CLIENT_ID, "azp": CLIENT_ID, "sub": "248289761001",
        "exp": now + 3600, "iat": now, "auth_time": now, "nonce": NONCE,
        "email": "alice@example.com", "email_verified": true, "name": "Alice Example",
        "preferred_username": "alice",
        "groups": ["engineers", "approvers", "platform-oncall", "db-readers"],
        "amr": ["pwd", "otp"], "acr": "urn:example:loa:2",
    });
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(signing_input.as_bytes()).unwrap();
    let signature = signer.sign_to_vec().unwrap();
    let jwt = format!("{signing_input}.{}", b64(&signature));
    println!(
        "ID token: {} bytes, RS256, RSA-2048, JWKS of 3 keys",
        jwt.len()
    );
    let id_token = CoreIdToken::from_str(&jwt).unwrap();

    let settings = OidcSettings {
        issuer: ISSUER.into(),
        client_id: CLIENT_ID.into(),
        scopes: vec!["groups".into()],
    };
    let secret = Some(ClientSecret::new("bench-client-secret".into()));
    let nonce = Nonce::new(NONCE.into());
    let now_ms = now * 1000;
    let idp = IdpRecord {
        id: "bench-idp".into(),
        name: "Bench IdP".into(),
        kind: "oidc".into(),
        enabled: true,
        settings: serde_json::to_string(&settings).unwrap(),
        client_secret_enc: None,
        allow_sha1: false,
        allow_idp_initiated: false,
        jit_create: true,
        link_by_verified_email: false,
        // Empty: the generic preset for OIDC (email, name, preferred_username, groups).
        mapping: String::new(),
        clock_skew_secs: 60,
        max_response_bytes: 256 * 1024,
        created_at: 0,
        updated_at: 0,
    };

    // What finish() does between the token endpoint's answer and the session.
    let callback = || {
        let checked = check_id_token(
            &id_token,
            metadata.clone(),
            &settings,
            secret.clone(),
            &nonce,
            now_ms,
            60,
        )
        .unwrap();
        identity_from_claims(&idp, &checked.claims, &checked.amr, checked.acr.as_deref()).unwrap()
    };
    let who = callback();
    assert_eq!(who.subject, "248289761001");
    assert_eq!(who.groups.len(), 4);
    assert!(who.mfa, "amr pwd+otp is two factors");

    // Nothing checked may be skipped: a token signed by another key is refused.
    let mut forged = signature.clone();
    forged[10] ^= 1;
    let forged = CoreIdToken::from_str(&format!("{signing_input}.{}", b64(&forged))).unwrap();
    let refused = check_id_token(
        &forged,
        metadata.clone(),
        &settings,
        secret.clone(),
        &nonce,
        now_ms,
        60,
    );
    assert_eq!(refused.err().map(|e| e.code()), Some("oidc_signature"));

    let rustcrypto_key = VerifyingKey::<sha2::Sha256>::new(
        rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&rsa.n().to_vec()),
            rsa::BigUint::from_bytes_be(&rsa.e().to_vec()),
        )
        .unwrap(),
    );
    let rustcrypto_sig = Signature::try_from(signature.as_slice()).unwrap();
    rustcrypto_key
        .verify(signing_input.as_bytes(), &rustcrypto_sig)
        .unwrap();
    let openssl_verify = || {
        let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
        v.update(signing_input.as_bytes()).unwrap();
        v.verify(&signature).unwrap()
    };
    assert!(openssl_verify());

    let mut g = c.benchmark_group("oidc");
    g.bench_function("callback_checks", |b| b.iter(&callback));
    g.bench_function("rsa_verify_rustcrypto", |b| {
        b.iter(|| {
            rustcrypto_key
                .verify(signing_input.as_bytes(), &rustcrypto_sig)
                .unwrap();
        });
    });
    g.bench_function("rsa_verify_openssl", |b| b.iter(&openssl_verify));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
