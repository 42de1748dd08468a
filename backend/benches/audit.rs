//! Audit trail benchmarks, run with `cargo bench --bench audit`:
//! - durable single-event appends per second, and batched events per second, each beside a
//!   raw insert loop of rows of the same shape into a trigger-free table on the same
//!   database in the same run (SQLite; PostgreSQL too when PostgreSQL is reachable);
//! - chain verification events per second on one core (in memory, and from SQLite).
//!
//! A plain harness rather than criterion: the goals are ratios measured side by side.

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark should stop loudly on any failure"
)]

use std::sync::Arc;
use std::time::Instant;

use gatehouse::audit::chain::{event_hash, GENESIS};
use gatehouse::audit::verify::{verify_store, ChainVerifier};
use gatehouse::audit::{AuditCtx, NewEvent, StoredEvent};
use gatehouse::secrets::MasterKey;
use gatehouse::store::postgres::PgStore;
use gatehouse::store::sqlite::SqliteStore;
use gatehouse::store::AuditStore;
use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::audit::Outcome;
use serde_json::json;

const SINGLE: usize = 1_000;
const BATCHES: usize = 20;
const BATCH: usize = 1_000;

fn ctx() -> AuditCtx {
    AuditCtx {
        actor_id: Some("6f1c2a4e-8d0b-4c1e-9a7f-2b3c4d5e6f70".into()),
        actor_name: "alice".into(),
        source_ip: Some("10.1.2.3".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0".into()),
    }
}

fn event(i: usize) -> NewEvent {
    NewEvent::new(1_790_000_000_000 + i64::try_from(i).unwrap(), &ctx(), AuditAction::DirectoryGroupUpdate, "group", Some(format!("group-{i}")))
        .details(json!({"before": {"name": "release-approvers", "roles": ""}, "after": {"name": "release-approvers", "roles": "auditor"}}))
}

const RAW_TABLE: &str = "CREATE TABLE raw_events (seq BIGINT PRIMARY KEY, occurred_at BIGINT NOT NULL, actor_id TEXT, \
    actor_name TEXT NOT NULL, source_ip TEXT, user_agent TEXT, action TEXT NOT NULL, target_type TEXT NOT NULL, \
    target_id TEXT, outcome TEXT NOT NULL, reason TEXT, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)";
const RAW_INSERT: &str =
    "INSERT INTO raw_events VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

macro_rules! raw_insert {
    ($q:expr, $i:expr) => {{
        let e = event($i);
        sqlx::query($q)
            .bind(i64::try_from($i).unwrap() + 1)
            .bind(e.occurred_at)
            .bind(e.ctx.actor_id)
            .bind(e.ctx.actor_name)
            .bind(e.ctx.source_ip)
            .bind(e.ctx.user_agent)
            .bind(e.action)
            .bind(e.target_type)
            .bind(e.target_id)
            .bind(Outcome::Success.as_str())
            .bind(None::<String>)
            .bind(e.details.to_string())
            .bind("0".repeat(64))
            .bind("f".repeat(64))
    }};
}

struct Rates {
    raw_single: f64,
    store_single: f64,
    raw_batch: f64,
    raw_multi: f64,
    store_batch: f64,
}

fn per_sec(n: usize, start: Instant) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "counts are small")]
    let n = n as f64;
    n / start.elapsed().as_secs_f64()
}

macro_rules! measure {
    ($pool:expr, $store:expr) => {{
        let pool = $pool;
        let store = $store;
        sqlx::query(RAW_TABLE).execute(pool).await.unwrap();
        // Warm up both paths.
        store.append_event(event(0)).await.unwrap();
        let t = Instant::now();
        for i in 0..SINGLE {
            raw_insert!(RAW_INSERT, i).execute(pool).await.unwrap();
        }
        let raw_single = per_sec(SINGLE, t);
        let t = Instant::now();
        for i in 0..SINGLE {
            store.append_event(event(i)).await.unwrap();
        }
        let store_single = per_sec(SINGLE, t);
        let t = Instant::now();
        for b in 0..BATCHES {
            let mut tx = pool.begin().await.unwrap();
            for i in 0..BATCH {
                raw_insert!(RAW_INSERT, SINGLE + b * BATCH + i)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }
        let raw_batch = per_sec(BATCHES * BATCH, t);
        // The raw loop again with multi-row INSERTs (500 rows each), the way the store batches.
        sqlx::query("DELETE FROM raw_events")
            .execute(pool)
            .await
            .unwrap();
        let t = Instant::now();
        for b in 0..BATCHES {
            let mut tx = pool.begin().await.unwrap();
            for c in 0..BATCH / 500 {
                let mut q = sqlx::QueryBuilder::new("INSERT INTO raw_events ");
                q.push_values(0..500, |mut row, i| {
                    let n = b * BATCH + c * 500 + i;
                    let e = event(n);
                    row.push_bind(i64::try_from(n).unwrap() + 1)
                        .push_bind(e.occurred_at)
                        .push_bind(e.ctx.actor_id)
                        .push_bind(e.ctx.actor_name)
                        .push_bind(e.ctx.source_ip)
                        .push_bind(e.ctx.user_agent)
                        .push_bind(e.action)
                        .push_bind(e.target_type)
                        .push_bind(e.target_id)
                        .push_bind(Outcome::Success.as_str())
                        .push_bind(None::<String>)
                        .push_bind(e.details.to_string())
                        .push_bind("0".repeat(64))
                        .push_bind("f".repeat(64));
                });
                q.build().execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
        let raw_multi = per_sec(BATCHES * BATCH, t);
        let t = Instant::now();
        for b in 0..BATCHES {
            store
                .append_events((0..BATCH).map(|i| event(b * BATCH + i)).collect())
                .await
                .unwrap();
        }
        let store_batch = per_sec(BATCHES * BATCH, t);
        Rates {
            raw_single,
            store_single,
            raw_batch,
            raw_multi,
            store_batch,
        }
    }};
}

fn report(engine: &str, r: &Rates) {
    println!("{engine}: durable single-event commits: audit append {:.0}/s, raw insert {:.0}/s, ratio {:.0}%", r.store_single, r.raw_single, 100.0 * r.store_single / r.raw_single);
    println!("{engine}: batched ({BATCH}/tx):            audit append {:.0}/s, raw single-row inserts {:.0}/s, ratio {:.0}%", r.store_batch, r.raw_batch, 100.0 * r.store_batch / r.raw_batch);
    println!("{engine}: batched ({BATCH}/tx):            audit append {:.0}/s, raw multi-row inserts {:.0}/s, ratio {:.0}%", r.store_batch, r.raw_multi, 100.0 * r.store_batch / r.raw_multi);
}

fn chain(n: usize) -> Vec<StoredEvent> {
    let mut prev = GENESIS;
    (1..=n)
        .map(|i| {
            let e = event(i);
            let mut ev = StoredEvent {
                seq: i64::try_from(i).unwrap(),
                occurred_at: e.occurred_at,
                actor_id: e.ctx.actor_id,
                actor_name: e.ctx.actor_name,
                source_ip: e.ctx.source_ip,
                user_agent: e.ctx.user_agent,
                action: e.action.into(),
                target_type: e.target_type.into(),
                target_id: e.target_id,
                outcome: "success".into(),
                reason: None,
                details: e.details.to_string(),
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

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let master = MasterKey::generate();

    // Chain verification, in memory, one core.
    let events = chain(1_000_000);
    let store_signer = gatehouse::audit::AuditSigner::generate(&master).0;
    let mut best = 0.0_f64;
    for _ in 0..3 {
        let t = Instant::now();
        let mut v = ChainVerifier::new(&store_signer, Vec::new());
        for e in &events {
            assert!(v.push(e));
        }
        assert!(v.finish().intact);
        best = best.max(per_sec(events.len(), t));
    }
    println!(
        "chain verification (in memory, one core): {best:.0} events/s over {} events",
        events.len()
    );
    drop(events);

    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = Arc::new(SqliteStore::connect(&url, &master).await.unwrap());
        let r = measure!(store.pool(), store.as_ref());
        report("SQLite", &r);
        let t = Instant::now();
        let rep = verify_store(store.as_ref()).await.unwrap();
        assert!(rep.intact);
        println!(
            "SQLite: chain verification from the database: {:.0} events/s over {} events",
            per_sec(usize::try_from(rep.events_checked).unwrap(), t),
            rep.events_checked
        );

        let admin = std::env::var("BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        match sqlx::PgPool::connect(&admin).await {
            Err(e) => println!("PostgreSQL: skipped ({e})"),
            Ok(admin_pool) => {
                let name = format!("gh_bench_{}", uuid::Uuid::new_v4().simple());
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&admin_pool)
                    .await
                    .unwrap();
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                let pg = PgStore::connect(&format!("{base}/{name}"), &master)
                    .await
                    .unwrap();
                let r = measure!(pg.pool(), &pg);
                report("PostgreSQL", &r);
                pg.pool().close().await;
                sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                    .execute(&admin_pool)
                    .await
                    .unwrap();
            }
        }
    });
}
