//! Revocation without a database read per request: every instance keeps the revocations
//! that can still matter in memory, applies its own at once, and reloads them all from the
//! store on every background tick (so another instance's revocation takes effect here
//! within one tick). A credential is refused when its key, or any key of its lineage (the
//! one it was assumed from, and so on up), is revoked, when its user's credentials issued
//! before some time are (judged by when its lineage began, so a child assumed later from
//! a revoked credential goes too), or when the just-in-time grant it was issued under has
//! ended or been revoked. A revocation is kept until every credential of every lineage it
//! can refuse has expired (`RevocationRecord::for_key`, `for_user`).

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
                .is_some_and(|l| l.keys().any(|k| set.keys.contains_key(k)))
            || set
                .users
                .get(&claims.uid)
                .is_some_and(|&t| claims.lineage_issued_at() <= t)
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
    use crate::sts::token::Lineage;

    fn claims(ak: &str, par: Option<&str>, iat: Millis) -> Claims {
        let parent = par.map(|p| Claims {
            ak: p.into(),
            par: None,
            ..claims(ak, None, iat)
        });
        claims_under(ak, parent.as_ref(), iat)
    }

    fn claims_under(ak: &str, parent: Option<&Claims>, iat: Millis) -> Claims {
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
            par: parent.map(Lineage::of_child),
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

    #[test]
    fn revoking_a_key_refuses_every_generation_below_it_for_as_long_as_they_live() {
        let r = Revocations::default();
        let a = claims_under("STS.a", None, 10);
        let b = claims_under("STS.b", Some(&a), 20);
        let c = claims_under("STS.c", Some(&b), 30);
        let d = claims_under("STS.d", Some(&c), 40);
        r.apply(&RevocationRecord::for_key("STS.b", b.exp, 50));
        assert!(!r.is_revoked(&a), "an ancestor is not touched");
        assert!(r.is_revoked(&b) && r.is_revoked(&c) && r.is_revoked(&d));
        // A descendant k generations down expires before its ancestor's expiry plus k hours.
        let rec = RevocationRecord::for_key("STS.a", a.exp, 50);
        let deepest = RevocationRecord::MAX_CHAIN_DEPTH as Millis;
        assert!(rec.expires_at >= a.exp + deepest * RevocationRecord::CHAINED_MAX_MS);
    }

    #[test]
    fn a_user_revocation_refuses_children_assumed_later_from_older_credentials() {
        let r = Revocations::default();
        let a = claims_under("STS.a", None, 10);
        r.apply(&RevocationRecord::for_user("u1", 100));
        let late_child = claims_under("STS.b", Some(&a), 150);
        let grandchild = claims_under("STS.c", Some(&late_child), 160);
        assert!(r.is_revoked(&late_child) && r.is_revoked(&grandchild));
        let fresh = claims_under("STS.d", None, 150);
        assert!(!r.is_revoked(&fresh));
        assert!(!r.is_revoked(&claims_under("STS.e", Some(&fresh), 170)));
    }
}
