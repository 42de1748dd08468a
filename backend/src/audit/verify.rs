//! Chain verification: feed the events in sequence order and the checkpoints, get a report
//! naming the first altered, missing or reordered event. Pure and streaming, so it can walk
//! millions of events in constant memory and be benchmarked alone.

use gatehouse_shared::audit::{ChainProblem, ChainProblemKind, CheckpointInfo, VerifyReport};

use super::chain::{checkpoint_message, event_hash, parse_hash, GENESIS};
use super::{AuditSigner, StoredCheckpoint, StoredEvent};
use crate::clock::to_datetime;

/// How far from its position a moved event is looked for when naming a reordering.
const REORDER_SEARCH: i64 = 64;

pub struct ChainVerifier {
    /// Checkpoints not yet reached, in event order.
    pending: std::collections::VecDeque<StoredCheckpoint>,
    last_verified: Option<CheckpointInfo>,
    expected_seq: i64,
    prev: [u8; 32],
    checked: i64,
    problem: Option<ChainProblem>,
}

impl ChainVerifier {
    /// `checkpoints` in any order; each signature is checked with `signer`'s public key.
    pub fn new(signer: &AuditSigner, mut checkpoints: Vec<StoredCheckpoint>) -> Self {
        checkpoints.sort_by_key(|c| (c.event_seq, c.id));
        let mut v = Self {
            pending: std::collections::VecDeque::new(),
            last_verified: None,
            expected_seq: 1,
            prev: GENESIS,
            checked: 0,
            problem: None,
        };
        for cp in checkpoints {
            let ok = parse_hash(&cp.event_hash).is_some_and(|h| {
                signer.verify(
                    &checkpoint_message(cp.id, cp.event_seq, &h, cp.signed_at),
                    &cp.signature,
                )
            });
            if !ok && v.problem.is_none() {
                v.problem = Some(ChainProblem {
                    seq: cp.event_seq,
                    kind: ChainProblemKind::CheckpointInvalid,
                    message: format!(
                        "checkpoint #{} (for event {}) does not carry a valid signature by key {}",
                        cp.id,
                        cp.event_seq,
                        signer.key_id()
                    ),
                });
            }
            v.pending.push_back(cp);
        }
        v
    }

    /// Whether verification has already found the first problem.
    pub fn failed(&self) -> bool {
        self.problem.is_some()
    }

    /// Checks the next event in sequence order; returns `false` once a problem is found.
    pub fn push(&mut self, ev: &StoredEvent) -> bool {
        if self.problem.is_some() {
            return false;
        }
        if ev.seq != self.expected_seq {
            let (kind, message) = if ev.seq > self.expected_seq {
                (
                    ChainProblemKind::Missing,
                    if ev.seq == self.expected_seq + 1 {
                        format!("event {} is missing", self.expected_seq)
                    } else {
                        format!("events {} to {} are missing", self.expected_seq, ev.seq - 1)
                    },
                )
            } else {
                (
                    ChainProblemKind::Reordered,
                    format!(
                        "event {} appears again after event {}",
                        ev.seq,
                        self.expected_seq - 1
                    ),
                )
            };
            return self.fail(self.expected_seq, kind, message);
        }
        let stored_hash = parse_hash(&ev.hash);
        let stored_prev = parse_hash(&ev.prev_hash);
        let content = ev.content();
        let recomputed = stored_prev.map(|p| event_hash(&p, &content));
        match (stored_hash, stored_prev, recomputed) {
            (Some(h), Some(p), Some(r)) if h == r => {
                if p != self.prev {
                    return self.fail(
                        ev.seq,
                        ChainProblemKind::Reordered,
                        format!(
                            "event {} is intact but does not follow event {}: events were moved or removed here",
                            ev.seq,
                            ev.seq - 1
                        ),
                    );
                }
                self.prev = h;
            }
            (Some(h), Some(p), _) => {
                // Is this another position's event, moved here whole?
                let moved_from = (ev.seq - REORDER_SEARCH..=ev.seq + REORDER_SEARCH)
                    .filter(|&t| t != ev.seq && t > 0)
                    .find(|&t| {
                        let mut c = content;
                        c.seq = t;
                        event_hash(&p, &c) == h
                    });
                return match moved_from {
                    Some(t) => self.fail(
                        ev.seq,
                        ChainProblemKind::Reordered,
                        format!(
                            "the event stored at position {} belongs at position {t}",
                            ev.seq
                        ),
                    ),
                    None => self.fail(
                        ev.seq,
                        ChainProblemKind::Altered,
                        format!(
                            "event {} was altered: its content no longer matches its hash",
                            ev.seq
                        ),
                    ),
                };
            }
            _ => {
                return self.fail(
                    ev.seq,
                    ChainProblemKind::Altered,
                    format!(
                        "event {} was altered: its stored hashes are malformed",
                        ev.seq
                    ),
                )
            }
        }
        while let Some(cp) = self.pending.front() {
            if cp.event_seq > ev.seq {
                break;
            }
            let cp = self.pending.pop_front().unwrap_or_else(|| unreachable!());
            if cp.event_seq < ev.seq {
                // Only reachable if the checkpoint names a sequence we skipped; seq gaps fail above.
                continue;
            }
            if parse_hash(&cp.event_hash) != Some(self.prev) {
                return self.fail(
                    ev.seq,
                    ChainProblemKind::CheckpointInvalid,
                    format!(
                        "the chain up to event {} differs from what checkpoint #{} signed: events up to here were rewritten",
                        ev.seq, cp.id
                    ),
                );
            }
            self.last_verified = Some(CheckpointInfo {
                id: cp.id,
                event_seq: cp.event_seq,
                signed_at: to_datetime(cp.signed_at),
            });
        }
        self.expected_seq += 1;
        self.checked += 1;
        true
    }

    fn fail(&mut self, seq: i64, kind: ChainProblemKind, message: String) -> bool {
        self.problem = Some(ChainProblem { seq, kind, message });
        false
    }

    /// The report once every event has been pushed (or a problem stopped the walk).
    pub fn finish(mut self) -> VerifyReport {
        if self.problem.is_none() {
            if let Some(cp) = self.pending.front() {
                self.problem = Some(ChainProblem {
                    seq: self.expected_seq,
                    kind: ChainProblemKind::Truncated,
                    message: format!(
                        "checkpoint #{} covers events up to {}, but the trail ends at event {}: events were removed from the end",
                        cp.id,
                        cp.event_seq,
                        self.expected_seq - 1
                    ),
                });
            }
        }
        let signed_up_to = self.last_verified.as_ref().map_or(0, |c| c.event_seq);
        VerifyReport {
            intact: self.problem.is_none(),
            events_checked: self.checked,
            unsigned_events: (self.checked - signed_up_to).max(0),
            last_checkpoint: self.last_verified,
            problem: self.problem,
        }
    }
}

/// The report in one or two sentences for people.
pub fn describe(r: &VerifyReport) -> String {
    match (&r.problem, &r.last_checkpoint) {
        (Some(p), _) => format!(
            "ALTERED: the audit trail does not verify at event {} ({:?}): {}",
            p.seq, p.kind, p.message
        ),
        (None, Some(cp)) => format!(
            "Intact: {} events verified; signed up to checkpoint #{} (event {}) at {}; {} newer events are chained but not yet signed.",
            r.events_checked, cp.id, cp.event_seq, cp.signed_at, r.unsigned_events
        ),
        (None, None) => format!(
            "Intact: {} events verified; no checkpoint has been signed yet.",
            r.events_checked
        ),
    }
}

/// Walks the whole stored chain in pages and verifies it with the store's checkpoint key.
pub async fn verify_store(
    store: &dyn crate::store::Store,
) -> crate::store::StoreResult<VerifyReport> {
    const PAGE: i64 = 20_000;
    let mut v = ChainVerifier::new(store.audit_signer(), store.checkpoints().await?);
    let mut after = 0;
    loop {
        let page = store.events_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        if !page.iter().all(|e| v.push(e)) {
            break;
        }
        if v.failed() {
            break;
        }
    }
    Ok(v.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MasterKey;

    fn chain(n: i64) -> Vec<StoredEvent> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let mut ev = StoredEvent {
                    seq,
                    occurred_at: 1_000 + seq,
                    actor_id: None,
                    actor_name: format!("user{seq}"),
                    source_ip: None,
                    user_agent: None,
                    action: "test.event".into(),
                    target_type: "thing".into(),
                    target_id: Some(seq.to_string()),
                    outcome: "success".into(),
                    reason: None,
                    details: "{}".into(),
                    prev_hash: hex::encode(prev),
                    hash: String::new(),
                };
                let h = event_hash(&prev, &ev.content());
                ev.hash = hex::encode(h);
                prev = h;
                ev
            })
            .collect()
    }

    fn checkpoint(signer: &AuditSigner, id: i64, ev: &StoredEvent) -> StoredCheckpoint {
        let h = parse_hash(&ev.hash).unwrap();
        StoredCheckpoint {
            id,
            event_seq: ev.seq,
            event_hash: ev.hash.clone(),
            signed_at: 5,
            key_id: signer.key_id().into(),
            signature: signer.sign(&checkpoint_message(id, ev.seq, &h, 5)),
        }
    }

    fn run(signer: &AuditSigner, evs: &[StoredEvent], cps: Vec<StoredCheckpoint>) -> VerifyReport {
        let mut v = ChainVerifier::new(signer, cps);
        for e in evs {
            if !v.push(e) {
                break;
            }
        }
        v.finish()
    }

    fn signer() -> AuditSigner {
        AuditSigner::generate(&MasterKey::generate()).0
    }

    #[test]
    fn intact_chain_reports_checkpoint_and_unsigned_tail() {
        let s = signer();
        let evs = chain(10);
        let r = run(&s, &evs, vec![checkpoint(&s, 1, &evs[6])]);
        assert!(r.intact, "{r:?}");
        assert_eq!(r.events_checked, 10);
        assert_eq!(r.last_checkpoint.unwrap().event_seq, 7);
        assert_eq!(r.unsigned_events, 3);
    }

    #[test]
    fn altered_field_is_named() {
        let s = signer();
        let mut evs = chain(10);
        evs[4].actor_name.push('x');
        let p = run(&s, &evs, vec![]).problem.unwrap();
        assert_eq!((p.seq, p.kind), (5, ChainProblemKind::Altered));
    }

    #[test]
    fn deleted_event_is_named() {
        let s = signer();
        let mut evs = chain(10);
        evs.remove(3);
        let p = run(&s, &evs, vec![]).problem.unwrap();
        assert_eq!((p.seq, p.kind), (4, ChainProblemKind::Missing));
    }

    #[test]
    fn swapped_events_are_named() {
        let s = signer();
        let mut evs = chain(10);
        // Swap every column but the position.
        let (a, b) = (evs[2].clone(), evs[3].clone());
        evs[2] = StoredEvent { seq: 3, ..b };
        evs[3] = StoredEvent { seq: 4, ..a };
        let p = run(&s, &evs, vec![]).problem.unwrap();
        assert_eq!((p.seq, p.kind), (3, ChainProblemKind::Reordered), "{p:?}");
    }

    #[test]
    fn rewritten_history_is_caught_by_the_checkpoint() {
        let s = signer();
        let evs = chain(10);
        let cp = checkpoint(&s, 1, &evs[7]);
        let mut forged = chain(10);
        forged[1].actor_name = "mallory".into();
        // Recompute the whole chain from the forgery on, as an attacker with the database would.
        let mut prev = parse_hash(&forged[0].hash).unwrap();
        for e in forged.iter_mut().skip(1) {
            e.prev_hash = hex::encode(prev);
            prev = event_hash(&prev, &e.content());
            e.hash = hex::encode(prev);
        }
        let p = run(&s, &forged, vec![cp]).problem.unwrap();
        assert_eq!((p.seq, p.kind), (8, ChainProblemKind::CheckpointInvalid));
    }

    #[test]
    fn truncated_tail_and_forged_checkpoint_are_caught() {
        let s = signer();
        let evs = chain(10);
        let cp = checkpoint(&s, 1, &evs[9]);
        let p = run(&s, &evs[..8], vec![cp.clone()]).problem.unwrap();
        assert_eq!(p.kind, ChainProblemKind::Truncated);
        let other = signer();
        let p = run(&other, &evs, vec![cp]).problem.unwrap();
        assert_eq!(p.kind, ChainProblemKind::CheckpointInvalid);
    }
}
