//! Checkpoints witnessed outside the database: chained checkpoints and their cadence, the
//! witness file and RFC 3161 tokens from a real `openssl ts` time-stamp authority
//! (`backend/tests/tsa/openssl_tsa.py`), and `gatehouse audit verify --witness`. Plays
//! the reviewer's attacker (database write access: delete checkpoints, rewrite events with
//! fresh hashes, move the head, let the tick sign) and a stronger one who also holds the
//! master key and re-signs forged checkpoints.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use gatehouse::audit::chain::{checkpoint_message_v2, event_hash, parse_hash, GENESIS};
use gatehouse::audit::witness::WitnessLine;
use gatehouse::audit::StoredCheckpoint;
use gatehouse_shared::audit::{ChainProblemKind, VerifyReport};
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::{gatehouse_bin, sql_text, Browser, CliRun, RawDb, TestApp};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `openssl ts -reply` behind a loopback HTTP server, with a CA and TSA certificate it
/// made itself.
struct Tsa {
    child: Child,
    dir: TempDir,
    url: String,
}

impl Tsa {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tsa/openssl_tsa.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the test TSA");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("the TSA did not start: {line:?}"));
        Self {
            url: format!("http://127.0.0.1:{port}/"),
            child,
            dir,
        }
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("tsa.crt")
    }

    /// While down, the TSA answers 503.
    fn set_down(&self, down: bool) {
        let flag = self.dir.path().join("fail");
        if down {
            std::fs::write(flag, b"").unwrap();
        } else {
            std::fs::remove_file(flag).unwrap();
        }
    }
}

impl Drop for Tsa {
    fn drop(&mut self) {
        // Closing its standard input stops it; kill it if that did not.
        drop(self.child.stdin.take());
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// An app whose checkpoints go to `witness` and `tsa`, with a cadence of 130 s (the least
/// the configuration allows) and no background tick after start-up, so the test's own
/// ticks are the only ones.
async fn witnessed_app(witness: Option<&Path>, tsa: Option<&Tsa>) -> TestApp {
    let witness = witness.map(Path::to_path_buf);
    let tsa = tsa.map(|t| (t.url.clone(), t.cert()));
    TestApp::spawn_with(move |c| {
        c.jobs_interval_secs = 3600;
        c.audit_checkpoint_max_lag_secs = 130;
        c.audit_witness_file = witness;
        if let Some((url, cert)) = tsa {
            c.audit_tsa_url = Some(url);
            c.audit_tsa_cert = Some(cert);
        }
    })
    .await
}

/// `rounds` times: an audited change, a minute passes, a tick signs (and witnesses) it.
async fn rounds(app: &TestApp, admin: &Browser, rounds: usize) {
    for i in 0..rounds {
        admin
            .post(
                "/api/v1/groups",
                &json!({ "name": format!("team-{}-{i}", app.now_ms()) }),
            )
            .await
            .assert_status(201);
        app.advance(Duration::from_secs(61));
        let tick = app.tick().await;
        assert!(tick.checkpoint.is_some(), "round {i} signs: {tick:?}");
    }
}

fn witness_lines(path: &Path) -> Vec<WitnessLine> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `gatehouse audit verify [--witness FILE [--tsa-cert PEM]]`.
fn cli(app: &TestApp, witness: Option<&Path>, cert: Option<&Path>) -> CliRun {
    let mut cmd = Command::new(gatehouse_bin());
    cmd.arg("--database-url")
        .arg(&app.db_url)
        .arg("--data-dir")
        .arg(&app.data_dir)
        .args(["audit", "verify"])
        .env("GATEHOUSE_LOG", "warn")
        .env("GATEHOUSE_AUDIT_CHECKPOINT_MAX_LAG_SECS", "130");
    if let Some(w) = witness {
        cmd.arg("--witness").arg(w);
    }
    if let Some(c) = cert {
        cmd.arg("--tsa-cert").arg(c);
    }
    cmd.output().unwrap().into()
}

async fn api_verify(admin: &Browser) -> VerifyReport {
    admin
        .get("/api/v1/audit/verify")
        .await
        .assert_status(200)
        .json()
}

/// The attacker with database write access: drops the append-only triggers, deletes the
/// checkpoints after `k`, rewrites every event after the one checkpoint `k` covers (a new
/// actor on the first, every hash recomputed, times kept), and moves the head to the forged
/// chain. Returns the forged events' hashes by sequence number.
async fn rewrite_after_checkpoint(
    app: &TestApp,
    db: &RawDb,
    k: &StoredCheckpoint,
) -> Vec<(i64, String)> {
    db.disable_audit_triggers().await;
    db.exec(&format!(
        "DELETE FROM audit_checkpoints WHERE id > {}",
        k.id
    ))
    .await
    .unwrap();
    let mut events = app
        .state
        .store
        .events_after(k.event_seq, 100_000)
        .await
        .unwrap();
    events[0].actor_name = "somebody-else".into();
    let mut prev = parse_hash(&events[0].prev_hash).unwrap();
    let mut forged = Vec::new();
    for e in &mut events {
        e.prev_hash = hex::encode(prev);
        prev = event_hash(&prev, &e.content());
        e.hash = hex::encode(prev);
        db.exec(&format!(
            "UPDATE audit_events SET actor_name = {}, prev_hash = '{}', hash = '{}' WHERE seq = {}",
            sql_text(Some(&e.actor_name)),
            e.prev_hash,
            e.hash,
            e.seq
        ))
        .await
        .unwrap();
        forged.push((e.seq, e.hash.clone()));
    }
    db.exec(&format!(
        "UPDATE audit_head SET hash = '{}' WHERE id = 1",
        hex::encode(prev)
    ))
    .await
    .unwrap();
    forged
}

#[tokio::test]
async fn an_honest_trail_is_witnessed_line_by_line_and_passes_both_checks() {
    // Arrange
    let tsa = Tsa::start();
    let dir = tempfile::tempdir().unwrap();
    let witness = dir.path().join("checkpoints.jsonl");
    let app = witnessed_app(Some(&witness), Some(&tsa)).await;
    let admin = app.admin().await;

    // Act
    rounds(&app, &admin, 3).await;

    // Assert: every checkpoint is in the file, in order, chained, with its token.
    let checkpoints = app.state.store.checkpoints().await.unwrap();
    let lines = witness_lines(&witness);
    assert_eq!(
        lines.iter().map(|l| l.id).collect::<Vec<_>>(),
        checkpoints.iter().map(|c| c.id).collect::<Vec<_>>()
    );
    let mut prev = GENESIS;
    for (line, cp) in lines.iter().zip(&checkpoints) {
        assert_eq!(cp.prev_hash.as_deref(), Some(hex::encode(prev).as_str()));
        prev = cp.hash().unwrap();
        assert_eq!(line.hash, hex::encode(prev));
        let kept = app.state.store.checkpoint_stamp(cp.id).await.unwrap();
        assert_eq!(
            line.tsa_token, kept,
            "the file and the database keep one token"
        );
        assert!(kept.is_some());
    }
    assert!(api_verify(&admin).await.intact);
    let plain = cli(&app, None, None);
    assert_eq!(plain.code, Some(0), "{plain:?}");
    let witnessed = cli(&app, Some(&witness), Some(&tsa.cert()));
    assert_eq!(witnessed.code, Some(0), "{witnessed:?}");
    assert!(
        witnessed.stdout.contains(&format!(
            "Witness agrees: checkpoints #1 to #{} ",
            checkpoints.len()
        )) && witnessed.stdout.contains("signatures checked"),
        "{witnessed:?}"
    );
    // The tokens are kept append-only, like the checkpoints.
    let db = app.raw_db().await;
    for sql in [
        "UPDATE audit_checkpoint_stamps SET token = 'x'",
        "DELETE FROM audit_checkpoint_stamps",
    ] {
        let err = db.exec(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn the_reviewers_attack_breaks_the_checkpoint_cadence() {
    // Arrange: six checkpoints a minute apart, no witness at all.
    let app = witnessed_app(None, None).await;
    let admin = app.admin().await;
    rounds(&app, &admin, 5).await;
    let checkpoints = app.state.store.checkpoints().await.unwrap();
    let k = checkpoints[1].clone();
    let db = app.raw_db().await;

    // Act: delete the checkpoints after #2, rewrite the events after it, move the head…
    rewrite_after_checkpoint(&app, &db, &k).await;
    // …and let the tick sign the forged head.
    app.advance(Duration::from_secs(61));
    let tick = app.tick().await;

    // Assert
    assert_eq!(
        tick.checkpoint,
        Some(k.id + 1),
        "the tick signed the forgery"
    );
    let report = api_verify(&admin).await;
    let problem = report.problem.expect("the cadence gap is named");
    assert_eq!(
        (problem.seq, problem.kind),
        (k.event_seq + 1, ChainProblemKind::CheckpointInvalid),
        "{problem:?}"
    );
    assert!(
        problem
            .message
            .contains(&format!("checkpoint #{} was signed", k.id + 1)),
        "{problem:?}"
    );
    let plain = cli(&app, None, None);
    assert_eq!(plain.code, Some(1), "{plain:?}");
    assert!(plain.stdout.contains("ALTERED"), "{plain:?}");

    // Deleting a checkpoint from the middle is a gap in their numbering.
    db.exec("DELETE FROM audit_checkpoints WHERE id = 1")
        .await
        .unwrap();
    let problem = api_verify(&admin).await.problem.unwrap();
    assert!(
        problem.message.contains("checkpoints 1 to 1 are missing"),
        "{problem:?}"
    );
}

#[tokio::test]
async fn an_attacker_with_the_master_key_is_caught_by_the_witness() {
    // Arrange
    let tsa = Tsa::start();
    let dir = tempfile::tempdir().unwrap();
    let witness = dir.path().join("checkpoints.jsonl");
    let app = witnessed_app(Some(&witness), Some(&tsa)).await;
    let admin = app.admin().await;
    rounds(&app, &admin, 4).await;
    let checkpoints = app.state.store.checkpoints().await.unwrap();
    let k = checkpoints[1].clone();
    let db = app.raw_db().await;

    // Act: the rewrite, then every removed checkpoint re-signed over the forged chain, same
    // numbers, same times, linked, with the key the master key opens.
    let forged = rewrite_after_checkpoint(&app, &db, &k).await;
    let signer = app.state.store.audit_signer();
    let mut before = k.clone();
    for old in &checkpoints[2..] {
        let (_, hash) = forged.iter().find(|(s, _)| *s == old.event_seq).unwrap();
        let prev = before.hash().unwrap();
        let mut cp = StoredCheckpoint {
            event_hash: hash.clone(),
            prev_hash: Some(hex::encode(prev)),
            signature: String::new(),
            ..old.clone()
        };
        cp.signature = signer.sign(&checkpoint_message_v2(
            cp.id,
            cp.event_seq,
            &parse_hash(hash).unwrap(),
            cp.signed_at,
            &prev,
        ));
        db.exec(&format!(
            "INSERT INTO audit_checkpoints (id, event_seq, event_hash, signed_at, key_id, \
             signature, prev_hash) VALUES ({}, {}, '{}', {}, '{}', '{}', '{}')",
            cp.id,
            cp.event_seq,
            cp.event_hash,
            cp.signed_at,
            cp.key_id,
            cp.signature,
            hex::encode(prev)
        ))
        .await
        .unwrap();
        before = cp;
    }

    // Assert: the database alone now looks intact…
    let report = api_verify(&admin).await;
    assert!(report.intact, "the forgery fools the database: {report:?}");
    assert_eq!(cli(&app, None, None).code, Some(0));
    // …but the witness names the first forged checkpoint.
    let run = cli(&app, Some(&witness), Some(&tsa.cert()));
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("WITNESS DISAGREES: checkpoint #{}:", k.id + 1))
            && run.stdout.contains("checkpoints were rewritten"),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_tampered_or_foreign_tsa_token_fails_the_witness_check() {
    // Arrange
    let tsa = Tsa::start();
    let other = Tsa::start();
    let dir = tempfile::tempdir().unwrap();
    let witness = dir.path().join("checkpoints.jsonl");
    let app = witnessed_app(Some(&witness), Some(&tsa)).await;
    let admin = app.admin().await;
    rounds(&app, &admin, 2).await;
    let mut lines = witness_lines(&witness);
    let target = lines[1].id;

    // Act: flip one byte of the token's signature (its last bytes) in a copy of the file.
    let mut der = B64.decode(lines[1].tsa_token.as_ref().unwrap()).unwrap();
    let last = der.len() - 3;
    der[last] ^= 0x01;
    lines[1].tsa_token = Some(B64.encode(der));
    let tampered = dir.path().join("tampered.jsonl");
    let mut f = std::fs::File::create(&tampered).unwrap();
    for l in &lines {
        writeln!(f, "{}", serde_json::to_string(l).unwrap()).unwrap();
    }
    drop(f);

    // Assert
    let run = cli(&app, Some(&tampered), Some(&tsa.cert()));
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("WITNESS DISAGREES: checkpoint #{target}:")),
        "{run:?}"
    );
    // A genuine token, but for another checkpoint's hash.
    let mut swapped = witness_lines(&witness);
    swapped[1].tsa_token = swapped[0].tsa_token.clone();
    let swapped_file = dir.path().join("swapped.jsonl");
    let text: String = swapped
        .iter()
        .map(|l| serde_json::to_string(l).unwrap() + "\n")
        .collect();
    std::fs::write(&swapped_file, text).unwrap();
    let run = cli(&app, Some(&swapped_file), Some(&tsa.cert()));
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "WITNESS DISAGREES: checkpoint #{target}: the time-stamp token stamps another hash"
        )),
        "{run:?}"
    );
    // The honest file with another TSA's certificate: no token verifies.
    let run = cli(&app, Some(&witness), Some(&other.cert()));
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout.contains("WITNESS DISAGREES: checkpoint #1:")
            && run
                .stdout
                .contains("does not verify with the TSA certificate"),
        "{run:?}"
    );
    assert_eq!(cli(&app, Some(&witness), Some(&tsa.cert())).code, Some(0));
}

#[tokio::test]
async fn a_tsa_or_file_outage_delays_witnessing_and_loses_nothing() {
    // Arrange
    let tsa = Tsa::start();
    let dir = tempfile::tempdir().unwrap();
    let witness = dir.path().join("checkpoints.jsonl");
    let app = witnessed_app(Some(&witness), Some(&tsa)).await;
    let admin = app.admin().await;
    rounds(&app, &admin, 1).await;
    let witnessed_before = witness_lines(&witness).len();

    // Act: the TSA is down for two checkpoints.
    tsa.set_down(true);
    rounds(&app, &admin, 2).await;
    let down = app.tick().await;

    // Assert: signed in the database, not witnessed, counted as behind.
    assert_eq!(witness_lines(&witness).len(), witnessed_before);
    assert_eq!(down.witness.witnessed, 0);
    assert_eq!(down.witness.behind, 2, "{down:?}");

    // Act: back up; the next tick witnesses both, in order.
    tsa.set_down(false);
    let up = app.tick().await;

    // Assert
    assert_eq!(up.witness.witnessed, 2, "{up:?}");
    let all = app.state.store.checkpoints().await.unwrap();
    assert_eq!(witness_lines(&witness).len(), all.len());
    let run = cli(&app, Some(&witness), Some(&tsa.cert()));
    assert_eq!(run.code, Some(0), "{run:?}");

    // A witness file that cannot be written holds witnessing up the same way.
    let blocked = TestApp::spawn_with(|c| {
        c.jobs_interval_secs = 3600;
        c.audit_witness_file = Some(dir.path().join("no-such-dir").join("w.jsonl"));
    })
    .await;
    let admin = blocked.admin().await;
    admin
        .post("/api/v1/groups", &json!({ "name": "still-recorded" }))
        .await
        .assert_status(201);
    blocked.advance(Duration::from_secs(61));
    let tick = blocked.tick().await;
    assert!(tick.checkpoint.is_some(), "the checkpoint is still signed");
    assert!(tick.witness.behind >= 1, "{tick:?}");
    assert!(api_verify(&admin).await.intact);
}
