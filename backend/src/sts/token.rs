//! Stateless STS credentials. Nothing per credential is looked up to verify a request:
//!
//! - `AccessKeyId` is `STS.` plus 24 random alphanumerics: the credential's identity.
//! - `AccessKeySecret` is HMAC-SHA256(secret key, AccessKeyId), base64url: any instance
//!   holding the master key re-derives it, so it is never stored.
//! - `SecurityToken` is `GH1.` plus base64url(nonce ‖ AES-256-GCM(token key, claims)): the
//!   principal, account, role, session policy, issue time and expiry, authenticated and
//!   unreadable to the holder. A changed byte fails to open.
//!
//! Both keys are derived from the master key with HKDF under their own labels. Revocation
//! is the small check in [`super::revocation`].

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::clock::Millis;
use crate::secrets::MasterKey;

const TOKEN_PREFIX: &str = "GH1.";
/// The AccessKeyId prefix Alibaba Cloud gives STS credentials.
pub const ACCESS_KEY_PREFIX: &str = "STS.";

/// What a token says. Field names are short: the token travels with every request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The AccessKeyId this token belongs to.
    pub ak: String,
    /// The Gatehouse user id.
    pub uid: String,
    /// The username, used as the role session name.
    pub sn: String,
    /// The account id.
    pub acc: String,
    /// The permission set id.
    pub ps: String,
    /// The RAM role name.
    pub role: String,
    /// Issued at and expires at (Unix ms).
    pub iat: Millis,
    pub exp: Millis,
    /// The session policy, if one was given when issuing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pol: Option<String>,
    /// Where a chained credential comes from (role chaining): its parent, every ancestor
    /// before that, and when the eldest was issued, so that revoking any of them (or the
    /// user's credentials of that time) revokes this one too. Tokens from before lineages
    /// carry the parent's key id alone, which still opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub par: Option<Lineage>,
    /// A break-glass root session: the root task whose policy alone limits it
    /// (`break_glass::tasks`); the principal is the account's root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rt: Option<String>,
    /// The just-in-time grant (access request id) it was issued under, so ending or
    /// revoking the grant revokes it. Absent in tokens issued through an assignment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gr: Option<String>,
}

/// The ancestry of a credential assumed from another: bounded by
/// [`RevocationRecord::MAX_CHAIN_DEPTH`](crate::store::RevocationRecord::MAX_CHAIN_DEPTH).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lineage {
    /// The key `AssumeRole` was signed with.
    pub p: String,
    /// The parent's own ancestors, eldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub a: Vec<String>,
    /// When the eldest ancestor was issued (Unix ms); `None` in tokens from before
    /// lineages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<Millis>,
}

impl Lineage {
    /// The lineage of a credential assumed with `parent`.
    pub fn of_child(parent: &Claims) -> Self {
        match &parent.par {
            None => Self {
                p: parent.ak.clone(),
                a: Vec::new(),
                t: Some(parent.iat),
            },
            Some(l) => {
                let mut a = l.a.clone();
                a.push(l.p.clone());
                Self {
                    p: parent.ak.clone(),
                    a,
                    t: Some(l.t.map_or(parent.iat, |t| t.min(parent.iat))),
                }
            }
        }
    }

    /// Every ancestor's key id, eldest first, the parent last.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.a.iter().map(String::as_str).chain([self.p.as_str()])
    }

    /// How many credentials stand above this one (1 for a child of a portal credential).
    pub fn depth(&self) -> usize {
        self.a.len() + 1
    }
}

impl<'de> Deserialize<'de> for Lineage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Before lineages, `par` was the parent's key id alone.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Parent(String),
            Lineage {
                p: String,
                #[serde(default)]
                a: Vec<String>,
                #[serde(default)]
                t: Option<Millis>,
            },
        }
        Ok(match Either::deserialize(d)? {
            Either::Parent(p) => Self {
                p,
                a: Vec::new(),
                t: None,
            },
            Either::Lineage { p, a, t } => Self { p, a, t },
        })
    }
}

impl Claims {
    /// How many credentials stand above this one: 0 for one from the portal.
    pub fn depth(&self) -> usize {
        self.par.as_ref().map_or(0, Lineage::depth)
    }

    /// When this credential's lineage began: its eldest ancestor's issue time, or its own.
    pub fn lineage_issued_at(&self) -> Millis {
        self.par
            .as_ref()
            .and_then(|l| l.t)
            .map_or(self.iat, |t| t.min(self.iat))
    }
}

/// A credential as handed out.
#[derive(Debug, Clone)]
pub struct Credential {
    pub access_key_id: String,
    pub access_key_secret: Zeroizing<String>,
    pub security_token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the security token is malformed or was not issued by this server")]
    Malformed,
    #[error("the security token belongs to another access key")]
    MismatchWithAccessKey,
}

/// The two keys STS needs, derived once at start-up.
#[derive(Clone)]
pub struct StsKeys {
    secret_key: Zeroizing<[u8; 32]>,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for StsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StsKeys(..)")
    }
}

impl StsKeys {
    pub fn derive(master: &MasterKey) -> Self {
        let token_key = master.derive("gatehouse sts token v1");
        Self {
            secret_key: master.derive("gatehouse sts access key secret v1"),
            cipher: Aes256Gcm::new(token_key.as_ref().into()),
        }
    }

    /// A fresh AccessKeyId.
    pub fn new_access_key_id() -> String {
        format!(
            "{ACCESS_KEY_PREFIX}{}",
            Alphanumeric.sample_string(&mut rand::rngs::OsRng, 24)
        )
    }

    /// The secret that belongs to `access_key_id`.
    pub fn secret_for(&self, access_key_id: &str) -> Zeroizing<String> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.secret_key.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(access_key_id.as_bytes());
        Zeroizing::new(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// Issues the credential that carries `claims` (whose `ak` names it).
    pub fn issue(&self, claims: &Claims) -> Credential {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Serialising plain strings and integers cannot fail; encrypting cannot either.
        let plain = Zeroizing::new(serde_json::to_vec(claims).unwrap_or_default());
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
            .unwrap_or_default();
        let mut raw = Vec::with_capacity(12 + sealed.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Credential {
            access_key_id: claims.ak.clone(),
            access_key_secret: self.secret_for(&claims.ak),
            security_token: format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw)),
        }
    }

    /// Opens `token` and checks it belongs to `access_key_id`. Expiry and revocation are
    /// the caller's to check: they depend on the clock and on shared state.
    pub fn open(&self, access_key_id: &str, token: &str) -> Result<Claims, TokenError> {
        let body = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::Malformed)?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError::Malformed)?;
        if raw.len() < 12 + 16 {
            return Err(TokenError::Malformed);
        }
        let (nonce, sealed) = raw.split_at(12);
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(Nonce::from_slice(nonce), sealed)
                .map_err(|_| TokenError::Malformed)?,
        );
        let claims: Claims =
            serde_json::from_slice(plain.as_slice()).map_err(|_| TokenError::Malformed)?;
        if claims.ak != access_key_id {
            return Err(TokenError::MismatchWithAccessKey);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(ak: &str) -> Claims {
        Claims {
            ak: ak.into(),
            uid: "u1".into(),
            sn: "alice".into(),
            acc: "1234567890123456".into(),
            ps: "ps1".into(),
            role: "GatehouseSSO-Admin".into(),
            iat: 1_000,
            exp: 3_601_000,
            pol: Some(r#"{"Version":"1","Statement":[]}"#.into()),
            par: None,
            rt: None,
            gr: None,
        }
    }

    #[test]
    fn a_token_opens_with_its_key_id_and_carries_its_claims() {
        let keys = StsKeys::derive(&MasterKey::generate());
        let ak = StsKeys::new_access_key_id();
        assert!(ak.starts_with("STS.") && ak.len() == 28);
        let cred = keys.issue(&claims(&ak));
        assert_eq!(cred.access_key_id, ak);
        assert_eq!(*cred.access_key_secret, *keys.secret_for(&ak));
        assert_eq!(keys.open(&ak, &cred.security_token).unwrap(), claims(&ak));
    }

    #[test]
    fn secrets_are_per_key_id_and_per_master_key() {
        let master = MasterKey::generate();
        let keys = StsKeys::derive(&master);
        assert_ne!(*keys.secret_for("STS.a"), *keys.secret_for("STS.b"));
        assert_eq!(
            *keys.secret_for("STS.a"),
            *StsKeys::derive(&master).secret_for("STS.a")
        );
        assert_ne!(
            *keys.secret_for("STS.a"),
            *StsKeys::derive(&MasterKey::generate()).secret_for("STS.a")
        );
    }

    #[test]
    fn tampered_foreign_or_misdirected_tokens_are_refused() {
        let keys = StsKeys::derive(&MasterKey::generate());
        let ak = StsKeys::new_access_key_id();
        let token = keys.issue(&claims(&ak)).security_token;
        assert_eq!(
            keys.open("STS.other", &token),
            Err(TokenError::MismatchWithAccessKey)
        );
        let other = StsKeys::derive(&MasterKey::generate());
        assert_eq!(other.open(&ak, &token), Err(TokenError::Malformed));
        for i in [5, token.len() / 2, token.len() - 1] {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert_eq!(keys.open(&ak, &tampered), Err(TokenError::Malformed));
        }
        assert_eq!(keys.open(&ak, "CAIS.xyz"), Err(TokenError::Malformed));
        assert_eq!(keys.open(&ak, "GH1."), Err(TokenError::Malformed));
    }

    #[test]
    fn a_lineage_names_every_ancestor_and_when_it_began_and_old_tokens_still_open() {
        let a = claims("STS.a");
        let b = Claims {
            ak: "STS.b".into(),
            iat: 2_000,
            par: Some(Lineage::of_child(&a)),
            ..claims("STS.b")
        };
        let c = Claims {
            ak: "STS.c".into(),
            iat: 3_000,
            par: Some(Lineage::of_child(&b)),
            ..claims("STS.c")
        };
        let l = c.par.as_ref().unwrap();
        assert_eq!(l.keys().collect::<Vec<_>>(), ["STS.a", "STS.b"]);
        assert_eq!((a.depth(), b.depth(), c.depth()), (0, 1, 2));
        assert_eq!(c.lineage_issued_at(), 1_000);
        // Before lineages, `par` was the parent's key id alone.
        let mut old = serde_json::to_value(claims("STS.d")).unwrap();
        old["par"] = serde_json::json!("STS.a");
        let old: Claims = serde_json::from_value(old).unwrap();
        let l = old.par.as_ref().unwrap();
        assert_eq!((l.p.as_str(), l.a.len(), l.t), ("STS.a", 0, None));
        assert_eq!(old.lineage_issued_at(), old.iat);
        // A token round-trips with its lineage.
        let keys = StsKeys::derive(&MasterKey::generate());
        let cred = keys.issue(&c);
        assert_eq!(keys.open("STS.c", &cred.security_token).unwrap(), c);
    }
}
