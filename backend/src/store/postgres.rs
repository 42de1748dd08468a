//! The production and multi-instance store. Nothing that matters lives in one process:
//! sessions, throttling counters, replay caches and the audit chain head are all rows here,
//! and concurrent appends from many instances serialise on the `audit_head` row lock.

use std::sync::LazyLock;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::Postgres;

use super::chain::{build_event, malformed_head};
use super::sql_store::SqlStore;
use super::{StoreError, StoreResult};
use crate::audit::chain::{event_hash, parse_hash};
use crate::audit::CHECKPOINT_EVERY_EVENTS;
use crate::audit::{AuditSigner, NewEvent, StoredEvent};
use crate::clock::{Clock, SystemClock};
use crate::secrets::MasterKey;

/// The store on PostgreSQL.
pub type PgStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects and migrates (sqlx holds an advisory lock, so instances may start together).
    pub async fn connect(url: &str, master: &MasterKey) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // Short, so that an outage is answered 503 in about a second rather than
            // each request hanging (see `http::availability`); connections are reused, and
            // opening one on loopback or a LAN takes milliseconds.
            .acquire_timeout(Duration::from_secs(1))
            .connect(url)
            .await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        let signer = Self::load_signer(&pool, master, SystemClock.now_ms()).await?;
        Ok(Self::new(pool, signer))
    }
}

/// One event appended in one statement: the head row locked, the event hashed by the
/// database with `audit::chain`'s encoding (the domain, the previous hash, `seq` and
/// `occurred_at` as 8-byte big-endian, then each text field as a presence byte, a 4-byte
/// big-endian length and its UTF-8 bytes) and inserted after it. Binds: `$1` occurred_at,
/// then the text fields in hash order, `$2`..`$11`.
static APPEND_ONE_SQL: LazyLock<String> = LazyLock::new(|| {
    // (bind, may be NULL), in the order `audit::chain::event_hash` takes them.
    const FIELDS: [(u8, bool); 10] = [
        (2, true),   // actor_id
        (3, false),  // actor_name
        (4, true),   // source_ip
        (5, true),   // user_agent
        (6, false),  // action
        (7, false),  // target_type
        (8, true),   // target_id
        (9, false),  // outcome
        (10, true),  // reason
        (11, false), // details
    ];
    let field = |&(n, nullable): &(u8, bool)| {
        let present =
            format!("'\\x01'::bytea || int4send(octet_length(${n})) || convert_to(${n}, 'UTF8')");
        if nullable {
            format!("CASE WHEN ${n} IS NULL THEN '\\x00'::bytea ELSE {present} END")
        } else {
            present
        }
    };
    let fields: Vec<String> = FIELDS.iter().map(field).collect();
    format!(
        "INSERT INTO audit_events (seq, occurred_at, actor_id, actor_name, source_ip, user_agent, \
         action, target_type, target_id, outcome, reason, details, prev_hash, hash) SELECT h.seq + \
         1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, h.hash, \
         encode(sha256('\\x{domain}'::bytea || decode(h.hash, 'hex') || int8send(h.seq + 1) || \
         int8send($1::bigint) || {fields}), 'hex') FROM audit_head h WHERE h.id = 1 FOR UPDATE \
         RETURNING seq, prev_hash, hash",
        domain = hex::encode(crate::audit::chain::DOMAIN),
        fields = fields.join(" || "),
    )
});

/// One event inside `tx`, in one statement ([`APPEND_ONE_SQL`]): the head row stays
/// locked from this statement to the commit, not across another round trip to compute the
/// hash here. The hash is computed here as well and must agree, or nothing is committed.
pub(super) async fn append_one_in(
    tx: &mut super::chain::Tx<Postgres>,
    signer: &AuditSigner,
    ev: NewEvent,
) -> StoreResult<StoredEvent> {
    // Every field as stored; seq, prev_hash and hash come back from the database.
    let mut stored = build_event(0, &crate::audit::chain::GENESIS, ev);
    let (seq, prev_hash, hash): (i64, String, String) = sqlx::query_as(&APPEND_ONE_SQL)
        .bind(stored.occurred_at)
        .bind(&stored.actor_id)
        .bind(&stored.actor_name)
        .bind(&stored.source_ip)
        .bind(&stored.user_agent)
        .bind(&stored.action)
        .bind(&stored.target_type)
        .bind(&stored.target_id)
        .bind(&stored.outcome)
        .bind(&stored.reason)
        .bind(&stored.details)
        .fetch_one(&mut **tx)
        .await?;
    let prev = parse_hash(&prev_hash).ok_or_else(malformed_head)?;
    stored.seq = seq;
    stored.prev_hash = prev_hash;
    let ours = event_hash(&prev, &stored.content());
    if hex::encode(ours) != hash {
        return Err(StoreError::Db(sqlx::Error::Protocol(
            "the database hashed an audit event differently".into(),
        )));
    }
    stored.hash = hash;
    if seq % CHECKPOINT_EVERY_EVENTS == 0 {
        PgStore::checkpoint_in(tx, signer, seq, &ours, stored.occurred_at).await?;
    }
    Ok(stored)
}
