//! Chain verification: feed the events in sequence order and the checkpoints, get a report
//! naming the first altered, missing or reordered event. Pure and streaming, so it can walk
//! millions of events in constant memory and be benchmarked alone.

use gatehouse_shared::audit::{ChainProblem, ChainProblemKind, CheckpointInfo, VerifyReport};

use super::chain::{event_hash, parse_hash, GENESIS};
use super::{AuditSigner, Cadence, StoredCheckpoint, StoredEvent, CHECKPOINT_EVERY_EVENTS};
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
    cadence: Cadence,
    /// The time of the first event after the last checkpoint passed (`None` until one comes).
    first_unsigned_at: Option<i64>,
    /// Whether the last checkpoint passed was chained (`None` before the first).
    prev_chained: Option<bool>,
    last_event_at: i64,
}

impl ChainVerifier {
    /// `checkpoints` in any order, held to the default [`Cadence`].
    pub fn new(signer: &AuditSigner, checkpoints: Vec<StoredCheckpoint>) -> Self {
        Self::with_cadence(signer, checkpoints, Cadence::default())
    }

    /// `checkpoints` in any order. Each signature is checked with `signer`'s public key;
    /// the checkpoints must be numbered 1, 2, 3… without a gap, each chained one must link
    /// to the one before, and (when both are chained) no two may be more than
    /// [`CHECKPOINT_EVERY_EVENTS`] events apart. The time side of `cadence` is checked as
    /// the events are pushed.
    pub fn with_cadence(
        signer: &AuditSigner,
        mut checkpoints: Vec<StoredCheckpoint>,
        cadence: Cadence,
    ) -> Self {
        let mut v = Self {
            pending: std::collections::VecDeque::new(),
            last_verified: None,
            expected_seq: 1,
            prev: GENESIS,
            checked: 0,
            problem: None,
            cadence,
            first_unsigned_at: None,
            prev_chained: None,
            last_event_at: 0,
        };
        checkpoints.sort_by_key(|c| c.id);
        let mut before: Option<&StoredCheckpoint> = None;
        for cp in &checkpoints {
            if let Some(message) = sequence_problem(signer, before, cp) {
                v.problem = Some(ChainProblem {
                    seq: cp.event_seq,
                    kind: ChainProblemKind::CheckpointInvalid,
                    message,
                });
                break;
            }
            before = Some(cp);
        }
        checkpoints.sort_by_key(|c| (c.event_seq, c.id));
        v.pending = checkpoints.into();
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
        self.first_unsigned_at.get_or_insert(ev.occurred_at);
        self.last_event_at = ev.occurred_at;
        while let Some(cp) = self.pending.front() {
            if cp.event_seq > ev.seq {
                break;
            }
            let cp = self.pending.pop_front().unwrap_or_else(|| unreachable!());
            if cp.event_seq < ev.seq {
                // Only reachable if the checkpoint names a sequence we skipped; seq gaps fail above.
                continue;
            }
            let chained = cp.prev_hash.is_some();
            if let Some(first) = self.first_unsigned_at.take() {
                let lag = cp.signed_at - first;
                if chained && self.prev_chained != Some(false) && lag > self.cadence.max_lag_ms {
                    let after = self.last_verified.as_ref().map_or(0, |c| c.event_seq);
                    return self.fail(
                        after + 1,
                        ChainProblemKind::CheckpointInvalid,
                        format!(
                            "checkpoint #{} was signed {} after event {} occurred, but a checkpoint follows new events within {}: checkpoints after #{} were removed and the events after {after} may have been rewritten (or no Gatehouse instance ran for that long)",
                            cp.id,
                            minutes(lag),
                            after + 1,
                            minutes(self.cadence.max_lag_ms),
                            cp.id - 1,
                        ),
                    );
                }
            }
            self.prev_chained = Some(chained);
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
        if self.problem.is_none() && self.last_verified.is_some() {
            if let Some(first) = self.first_unsigned_at {
                let span = self.last_event_at - first;
                if span > self.cadence.max_lag_ms {
                    self.problem = Some(ChainProblem {
                        seq: signed_up_to + 1,
                        kind: ChainProblemKind::CheckpointInvalid,
                        message: format!(
                            "events {} to {} span {} without a checkpoint, but a checkpoint follows new events within {}: checkpoints after event {signed_up_to} were removed",
                            signed_up_to + 1,
                            self.expected_seq - 1,
                            minutes(span),
                            minutes(self.cadence.max_lag_ms),
                        ),
                    });
                }
            }
        }
        VerifyReport {
            intact: self.problem.is_none(),
            events_checked: self.checked,
            unsigned_events: (self.checked - signed_up_to).max(0),
            last_checkpoint: self.last_verified,
            problem: self.problem,
        }
    }
}

/// Why `cp` cannot follow `before` (the checkpoint numbered one less, or none), if it
/// cannot: a bad signature, a gap in the numbering, a broken link, or too many events.
fn sequence_problem(
    signer: &AuditSigner,
    before: Option<&StoredCheckpoint>,
    cp: &StoredCheckpoint,
) -> Option<String> {
    let signed = cp
        .message()
        .is_some_and(|m| signer.verify(&m, &cp.signature));
    if !signed {
        return Some(format!(
            "checkpoint #{} (for event {}) does not carry a valid signature by key {}",
            cp.id,
            cp.event_seq,
            signer.key_id()
        ));
    }
    let expected_id = before.map_or(1, |b| b.id + 1);
    if cp.id != expected_id {
        return Some(format!(
            "checkpoint #{} follows {}: checkpoints {expected_id} to {} are missing",
            cp.id,
            before.map_or("nothing".to_string(), |b| format!("#{}", b.id)),
            cp.id - 1
        ));
    }
    let Some(link) = &cp.prev_hash else {
        return before.is_some_and(|b| b.prev_hash.is_some()).then(|| {
            format!(
                "checkpoint #{} is not linked to checkpoint #{}",
                cp.id,
                cp.id - 1
            )
        });
    };
    let want = before.map_or(Some(GENESIS), StoredCheckpoint::hash);
    if parse_hash(link) != want {
        return Some(format!(
            "checkpoint #{} does not link to checkpoint #{}: checkpoints were replaced",
            cp.id,
            cp.id - 1
        ));
    }
    if let Some(b) = before {
        if cp.event_seq < b.event_seq {
            return Some(format!(
                "checkpoint #{} covers fewer events than checkpoint #{}",
                cp.id, b.id
            ));
        }
        if b.prev_hash.is_some() && cp.event_seq - b.event_seq > CHECKPOINT_EVERY_EVENTS {
            return Some(format!(
                "checkpoints #{} and #{} are {} events apart; a checkpoint comes at least every {CHECKPOINT_EVERY_EVENTS}",
                b.id,
                cp.id,
                cp.event_seq - b.event_seq
            ));
        }
    }
    None
}

/// A duration for people: whole seconds under two minutes, else minutes.
fn minutes(ms: i64) -> String {
    if ms < 120_000 {
        format!("{} s", ms / 1000)
    } else {
        format!("{} min", ms / 60_000)
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

/// Walks the whole stored chain in pages and verifies it with the store's checkpoint key,
/// held to the default [`Cadence`].
pub async fn verify_store(
    store: &dyn crate::store::Store,
) -> crate::store::StoreResult<VerifyReport> {
    verify_store_with(store, Cadence::default()).await
}

/// [`verify_store`] held to `cadence`.
pub async fn verify_store_with(
    store: &dyn crate::store::Store,
    cadence: Cadence,
) -> crate::store::StoreResult<VerifyReport> {
    // Small pages: each row is copied twice on its way here, and a large page is held
    // (and its memory kept by the allocator) for no gain in speed.
    const PAGE: i64 = 2_000;
    let mut v =
        ChainVerifier::with_cadence(store.audit_signer(), store.checkpoints().await?, cadence);
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

    /// A chained checkpoint after `before` (none for the first) over `ev`, signed at `at`.
    fn signed(
        signer: &AuditSigner,
        before: Option<&StoredCheckpoint>,
        ev: &StoredEvent,
        at: i64,
    ) -> StoredCheckpoint {
        let mut cp = StoredCheckpoint {
            id: before.map_or(1, |b| b.id + 1),
            event_seq: ev.seq,
            event_hash: ev.hash.clone(),
            signed_at: at,
            key_id: signer.key_id().into(),
            signature: String::new(),
            prev_hash: Some(hex::encode(before.map_or(GENESIS, |b| b.hash().unwrap()))),
        };
        cp.signature = signer.sign(&cp.message().unwrap());
        cp
    }

    fn checkpoint(signer: &AuditSigner, id: i64, ev: &StoredEvent) -> StoredCheckpoint {
        assert_eq!(
            id, 1,
            "later checkpoints link to the one before: use signed()"
        );
        signed(signer, None, ev, ev.occurred_at)
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

    /// Checkpoints over `evs` at the given positions, each signed when its event occurred.
    fn checkpoints_at(s: &AuditSigner, evs: &[StoredEvent], at: &[usize]) -> Vec<StoredCheckpoint> {
        let mut out: Vec<StoredCheckpoint> = Vec::new();
        for &i in at {
            let cp = signed(s, out.last(), &evs[i], evs[i].occurred_at);
            out.push(cp);
        }
        out
    }

    #[test]
    fn chained_checkpoints_verify_and_a_removed_or_replaced_one_is_named() {
        let s = signer();
        let evs = chain(10);
        let cps = checkpoints_at(&s, &evs, &[2, 5, 8]);
        assert!(run(&s, &evs, cps.clone()).intact);

        let mut gap = cps.clone();
        gap.remove(1);
        let p = run(&s, &evs, gap).problem.unwrap();
        assert_eq!(p.kind, ChainProblemKind::CheckpointInvalid);
        assert!(
            p.message.contains("checkpoints 2 to 2 are missing"),
            "{p:?}"
        );

        // Re-signed with the key, but linked to a checkpoint that is not the one before.
        let mut replaced = cps.clone();
        replaced[1] = signed(&s, Some(&cps[1]), &evs[5], evs[5].occurred_at);
        replaced[1].id = 2;
        replaced[1].signature = s.sign(&replaced[1].message().unwrap());
        let p = run(&s, &evs, replaced).problem.unwrap();
        assert!(
            p.message.contains("does not link to checkpoint #1"),
            "{p:?}"
        );

        let mut first_gone = cps;
        first_gone.remove(0);
        let p = run(&s, &evs, first_gone).problem.unwrap();
        assert!(
            p.message.contains("checkpoints 1 to 1 are missing"),
            "{p:?}"
        );
    }

    #[test]
    fn a_checkpoint_signed_long_after_the_events_it_covers_breaks_the_cadence() {
        let s = signer();
        let mut evs = chain(10);
        // Events a second apart; the trail as a forger who kept the times would leave it.
        for (i, e) in evs.iter_mut().enumerate() {
            e.occurred_at = 1_000_000 + i64::try_from(i).unwrap() * 1_000;
        }
        let evs = rehash(evs);
        let cadence = Cadence { max_lag_ms: 60_000 };
        let first = signed(&s, None, &evs[2], evs[2].occurred_at);
        let on_time = signed(&s, Some(&first), &evs[9], evs[3].occurred_at + 60_000);
        let late = signed(&s, Some(&first), &evs[9], evs[3].occurred_at + 60_001);
        let mut v = ChainVerifier::with_cadence(&s, vec![first.clone(), on_time], cadence);
        evs.iter().for_each(|e| assert!(v.push(e)));
        assert!(v.finish().intact);

        let mut v = ChainVerifier::with_cadence(&s, vec![first, late], cadence);
        evs.iter().for_each(|e| {
            v.push(e);
        });
        let p = v.finish().problem.unwrap();
        assert_eq!((p.seq, p.kind), (4, ChainProblemKind::CheckpointInvalid));
        assert!(p.message.contains("checkpoint #2 was signed"), "{p:?}");
    }

    #[test]
    fn unsigned_events_spanning_longer_than_the_cadence_are_named() {
        let s = signer();
        let mut evs = chain(10);
        evs[9].occurred_at = evs[3].occurred_at + 60_001;
        let evs = rehash(evs);
        let cadence = Cadence { max_lag_ms: 60_000 };
        let cps = vec![signed(&s, None, &evs[2], evs[2].occurred_at)];
        let mut v = ChainVerifier::with_cadence(&s, cps.clone(), cadence);
        evs.iter().for_each(|e| assert!(v.push(e)));
        let p = v.finish().problem.unwrap();
        assert_eq!((p.seq, p.kind), (4, ChainProblemKind::CheckpointInvalid));
        assert!(p.message.contains("events 4 to 10 span"), "{p:?}");

        let mut v = ChainVerifier::with_cadence(&s, cps, cadence);
        evs[..9].iter().for_each(|e| assert!(v.push(e)));
        assert!(v.finish().intact);
    }

    #[test]
    fn unchained_checkpoints_from_before_the_upgrade_may_precede_chained_ones_only() {
        let s = signer();
        let evs = chain(10);
        let h = parse_hash(&evs[1].hash).unwrap();
        let v1 = StoredCheckpoint {
            id: 1,
            event_seq: 2,
            event_hash: evs[1].hash.clone(),
            signed_at: 5,
            key_id: s.key_id().into(),
            signature: s.sign(&crate::audit::chain::checkpoint_message(1, 2, &h, 5)),
            prev_hash: None,
        };
        let v2 = signed(&s, Some(&v1), &evs[4], evs[4].occurred_at);
        assert!(run(&s, &evs, vec![v1.clone(), v2.clone()]).intact);

        let mut v1_after = v1;
        v1_after.id = 3;
        v1_after.event_seq = 6;
        v1_after.event_hash.clone_from(&evs[5].hash);
        let h = parse_hash(&evs[5].hash).unwrap();
        v1_after.signature = s.sign(&crate::audit::chain::checkpoint_message(3, 6, &h, 5));
        let first = signed(&s, None, &evs[1], evs[1].occurred_at);
        let second = signed(&s, Some(&first), &evs[4], evs[4].occurred_at);
        let p = run(&s, &evs, vec![first, second, v1_after])
            .problem
            .unwrap();
        assert!(p.message.contains("not linked to checkpoint #2"), "{p:?}");
    }

    fn rehash(mut evs: Vec<StoredEvent>) -> Vec<StoredEvent> {
        let mut prev = GENESIS;
        for e in &mut evs {
            e.prev_hash = hex::encode(prev);
            prev = event_hash(&prev, &e.content());
            e.hash = hex::encode(prev);
        }
        evs
    }

    #[test]
    fn chained_checkpoints_more_than_ten_thousand_events_apart_are_named() {
        let s = signer();
        let evs = chain(CHECKPOINT_EVERY_EVENTS + 2);
        let n = usize::try_from(CHECKPOINT_EVERY_EVENTS).unwrap();
        assert!(run(&s, &evs, checkpoints_at(&s, &evs, &[0, n])).intact);
        let p = run(&s, &evs, checkpoints_at(&s, &evs, &[0, n + 1]))
            .problem
            .unwrap();
        assert!(p.message.contains("10001 events apart"), "{p:?}");
    }
}
