//! The hash chain: a canonical byte encoding of an event and the SHA-256 that links it to
//! the event before. Pure: no I/O, no clock.
//!
//! `hash(n) = SHA-256("gatehouse.audit.v1\0" ‖ hash(n-1) ‖ seq ‖ occurred_at ‖ fields…)`
//! where integers are 8-byte big-endian and every text field is a presence byte, a 4-byte
//! big-endian length and its UTF-8 bytes, so no two different events encode alike.

use sha2::{Digest, Sha256};

/// The hash that precedes the first event.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// What every event hash begins with (the database's own encoding of it, on PostgreSQL,
/// starts the same).
pub const DOMAIN: &[u8] = b"gatehouse.audit.v1\0";

/// What an event's hash covers: everything stored except the hashes themselves.
#[derive(Debug, Clone, Copy)]
pub struct EventContent<'a> {
    pub seq: i64,
    pub occurred_at: i64,
    pub actor_id: Option<&'a str>,
    pub actor_name: &'a str,
    pub source_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<&'a str>,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub details: &'a str,
}

fn put_text(h: &mut Sha256, s: Option<&str>) {
    match s {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            // Lengths beyond 4 GiB cannot be stored; saturate rather than wrap.
            let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
            h.update(len.to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

/// The chained hash of `content` after `prev`.
pub fn event_hash(prev: &[u8; 32], content: &EventContent<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(prev);
    h.update(content.seq.to_be_bytes());
    h.update(content.occurred_at.to_be_bytes());
    put_text(&mut h, content.actor_id);
    put_text(&mut h, Some(content.actor_name));
    put_text(&mut h, content.source_ip);
    put_text(&mut h, content.user_agent);
    put_text(&mut h, Some(content.action));
    put_text(&mut h, Some(content.target_type));
    put_text(&mut h, content.target_id);
    put_text(&mut h, Some(content.outcome));
    put_text(&mut h, content.reason);
    put_text(&mut h, Some(content.details));
    h.finalize().into()
}

/// Decodes a stored 64-character hex hash.
pub fn parse_hash(hex_str: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_str, &mut out).ok()?;
    Some(out)
}

/// The bytes a checkpoint signature covered before checkpoints were chained (v1, kept for
/// the checkpoints written then).
pub fn checkpoint_message(
    id: i64,
    event_seq: i64,
    event_hash: &[u8; 32],
    signed_at: i64,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(24 + 8 * 3 + 32);
    m.extend_from_slice(b"gatehouse.checkpoint.v1\0");
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&event_seq.to_be_bytes());
    m.extend_from_slice(event_hash);
    m.extend_from_slice(&signed_at.to_be_bytes());
    m
}

/// The bytes a chained checkpoint's signature covers, and whose SHA-256 is the checkpoint's
/// hash: the v1 fields and the hash of the checkpoint before (32 zero bytes before the
/// first), so no checkpoint can be removed or replaced without breaking the next one.
pub fn checkpoint_message_v2(
    id: i64,
    event_seq: i64,
    event_hash: &[u8; 32],
    signed_at: i64,
    prev_checkpoint: &[u8; 32],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(24 + 8 * 3 + 64);
    m.extend_from_slice(b"gatehouse.checkpoint.v2\0");
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&event_seq.to_be_bytes());
    m.extend_from_slice(event_hash);
    m.extend_from_slice(&signed_at.to_be_bytes());
    m.extend_from_slice(prev_checkpoint);
    m
}

/// A checkpoint's hash: SHA-256 of the message it signs (v1 or v2). This is what the next
/// checkpoint links to and what the time-stamp authority stamps.
pub fn checkpoint_hash(message: &[u8]) -> [u8; 32] {
    Sha256::digest(message).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(details: &str) -> EventContent<'_> {
        EventContent {
            seq: 1,
            occurred_at: 1_700_000_000_000,
            actor_id: None,
            actor_name: "admin",
            source_ip: Some("127.0.0.1"),
            user_agent: None,
            action: "auth.login",
            target_type: "user",
            target_id: Some("u1"),
            outcome: "success",
            reason: None,
            details,
        }
    }

    #[test]
    fn every_field_and_the_link_change_the_hash() {
        let base = event_hash(&GENESIS, &content("{}"));
        assert_ne!(base, event_hash(&[1u8; 32], &content("{}")));
        assert_ne!(base, event_hash(&GENESIS, &content("{ }")));
        let mut c = content("{}");
        c.seq = 2;
        assert_ne!(base, event_hash(&GENESIS, &c));
        let mut c = content("{}");
        c.user_agent = Some("");
        assert_ne!(base, event_hash(&GENESIS, &c), "None and empty differ");
    }

    #[test]
    fn fields_cannot_bleed_into_each_other() {
        let mut a = content("{}");
        a.action = "auth.login";
        a.target_type = "user";
        let mut b = content("{}");
        b.action = "auth.loginuser";
        b.target_type = "";
        assert_ne!(event_hash(&GENESIS, &a), event_hash(&GENESIS, &b));
    }
}
