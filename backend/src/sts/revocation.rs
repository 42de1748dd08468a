//! Revocation without a database read per request: every instance keeps the revocations
//! that can still matter in memory, applies its own at once, and reloads them all from the
//! store on every background tick (so another instance's revocation takes effect here
//! within one tick). A credential is refused when its key, or the key it was assumed from,
//! is revoked, when its user's credentials issued before some time are, or when the
//! just-in-time grant it was issued under has ended or been revoked.

use std::collections::HashMap;
use std::sync::RwLock;

use super::token::Claims;
use crate::clock::Millis;
use crate::store::{RevocationRecord, Store, StoreResult};

#[derive(Debug, Default)]
struct Set {
    /// Revoked access key id → when the revocation stops mattering.
    keys: HashMap<String, Millis>,
    /// User id → credentials issued before this are revoked.
    users: HashMap<String, Millis>,
    /// Ended or revoked grant id → when the revocation stops mattering.
    grants: HashMap<String, Millis>,
}

impl Set {
    fn apply(&mut self, r: &RevocationRecord) {
        match r.kind.as_str() {
            "key" => {
                self.keys.insert(r.subject.clone(), r.expires_at);
            }
            "grant" => {
                self.grants.insert(r.subject.clone(), r.expires_at);
            }
            "user" => {
                let at = self.users.entry(r.subject.clone()).or_insert(r.not_before);
                *at = (*at).max(r.not_before);
            }
            _ => {}
        }
    }
}

#[derive(Debug, Default)]
pub struct Revocations {
    set: RwLock<Set>,
}

impl Revocations {
    pub fn is_revoked(&self, claims: &Claims) -> bool {
        let set = self
            .set
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        set.keys.contains_key(&claims.ak)
            || claims
                .par
                .as_ref()
                .is_some_and(|p| set.keys.contains_key(p))
            || set.users.get(&claims.uid).is_some_and(|&t| claims.iat <= t)
            || claims
                .gr
                .as_ref()
                .is_some_and(|g| set.grants.contains_key(g))
    }

    /// Applies one revocation this instance just recorded.
    pub fn apply(&self, r: &RevocationRecord) {
        self.set
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .apply(r);
    }

    /// Replaces the set with what the store holds now.
    pub async fn reload(&self, store: &dyn Store, now: Millis) -> StoreResult<usize> {
        let rows = store.active_revocations(now).await?;
        let mut fresh = Set::default();
        for r in &rows {
            fresh.apply(r);
        }
        *self
            .set
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        Ok(rows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(ak: &str, par: Option<&str>, iat: Millis) -> Claims {
        Claims {
            ak: ak.into(),
            uid: "u1".into(),
            sn: "alice".into(),
            acc: "1".into(),
            ps: "p".into(),
            role: "r".into(),
            iat,
            exp: iat + 3_600_000,
            pol: None,
            par: par.map(Into::into),
            rt: None,
            gr: Some("g1".into()),
        }
    }

    #[test]
    fn keys_their_children_and_users_before_a_time_are_revoked() {
        let r = Revocations::default();
        assert!(!r.is_revoked(&claims("STS.a", None, 10)));
        r.apply(&RevocationRecord::for_key("STS.a", 99, 50));
        assert!(r.is_revoked(&claims("STS.a", None, 10)));
        assert!(r.is_revoked(&claims("STS.b", Some("STS.a"), 10)));
        assert!(!r.is_revoked(&claims("STS.c", None, 10)));
        r.apply(&RevocationRecord::for_user("u1", 100));
        assert!(r.is_revoked(&claims("STS.c", None, 100)));
        assert!(!r.is_revoked(&claims("STS.c", None, 101)));
        r.apply(&RevocationRecord {
            id: "r".into(),
            kind: "grant".into(),
            subject: "g1".into(),
            not_before: 200,
            expires_at: 999,
            created_at: 200,
        });
        assert!(r.is_revoked(&claims("STS.d", None, 300)));
        let mut other = claims("STS.e", None, 300);
        other.gr = None;
        assert!(!r.is_revoked(&other));
    }
}
