//! Checkpoints witnessed outside the database: each checkpoint, in order, is stamped by an
//! RFC 3161 time-stamp authority (the token is kept beside it, `audit_checkpoint_stamps`)
//! and appended as one JSON line to a file that Gatehouse only ever appends to, fsynced
//! before the checkpoint counts as witnessed. A failure leaves the checkpoint for the next
//! tick; nothing is skipped. [`verify_witness`] holds the database to what was witnessed,
//! so whoever holds the database and the master key still cannot rewrite history without
//! the witness disagreeing. [AUDIT.md](../../../docs/AUDIT.md)

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use openssl::x509::X509;
use serde::{Deserialize, Serialize};

use super::chain::{checkpoint_hash, checkpoint_message, checkpoint_message_v2, parse_hash};
use super::tsa;
use super::{AuditSigner, StoredCheckpoint};
use crate::clock::Millis;
use crate::config::Config;
use crate::store::{Store, StoreResult};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Checkpoints read from the store per round trip while witnessing.
const BATCH: i64 = 100;
/// How much of the file's end is read to find its last line (lines are a few KiB).
const TAIL: u64 = 256 * 1024;

/// One line of the witness file: a checkpoint as signed, its hash, and its time-stamp token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessLine {
    pub id: i64,
    pub event_seq: i64,
    pub event_hash: String,
    pub signed_at: i64,
    pub key_id: String,
    /// The hash of the checkpoint before; `null` for a checkpoint from before chaining.
    pub prev_hash: Option<String>,
    /// This checkpoint's hash (SHA-256 of the message it signs), hex.
    pub hash: String,
    pub signature: String,
    /// The RFC 3161 token over `hash` (base64 DER), when a TSA is configured.
    pub tsa_token: Option<String>,
}

impl WitnessLine {
    fn new(cp: &StoredCheckpoint, hash: &[u8; 32], tsa_token: Option<String>) -> Self {
        Self {
            id: cp.id,
            event_seq: cp.event_seq,
            event_hash: cp.event_hash.clone(),
            signed_at: cp.signed_at,
            key_id: cp.key_id.clone(),
            prev_hash: cp.prev_hash.clone(),
            hash: hex::encode(hash),
            signature: cp.signature.clone(),
            tsa_token,
        }
    }

    /// The checkpoint as the line records it.
    fn checkpoint(&self) -> StoredCheckpoint {
        StoredCheckpoint {
            id: self.id,
            event_seq: self.event_seq,
            event_hash: self.event_hash.clone(),
            signed_at: self.signed_at,
            key_id: self.key_id.clone(),
            signature: self.signature.clone(),
            prev_hash: self.prev_hash.clone(),
        }
    }
}

/// Why a checkpoint could not be witnessed this tick.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error(transparent)]
    Tsa(#[from] tsa::TsaError),
    #[error("the witness file cannot be written: {0}")]
    File(std::io::Error),
    #[error("checkpoint #{0} has a malformed hash")]
    Malformed(i64),
}

struct TsaClient {
    url: String,
    client: reqwest::Client,
    cert: Option<X509>,
}

/// Where checkpoints are witnessed, and how far this process has got.
pub struct Witness {
    file: Option<PathBuf>,
    tsa: Option<TsaClient>,
    /// The newest checkpoint witnessed (`None` until the first step has looked).
    done: tokio::sync::Mutex<Option<i64>>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("file", &self.file)
            .field("tsa", &self.tsa.is_some())
            .finish_non_exhaustive()
    }
}

/// Reads a PEM certificate (the TSA's).
pub fn read_cert(path: &Path) -> anyhow::Result<X509> {
    let pem = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read the TSA certificate {}: {e}", path.display()))?;
    X509::from_pem(&pem).map_err(|_| {
        anyhow::anyhow!(
            "the TSA certificate {} is not a PEM certificate",
            path.display()
        )
    })
}

impl Witness {
    /// No witness: checkpoints stay in the database only.
    pub fn disabled() -> Self {
        Self {
            file: None,
            tsa: None,
            done: tokio::sync::Mutex::new(None),
        }
    }

    /// The witness `config` names (`audit_witness_file`, `audit_tsa_url`, `audit_tsa_cert`).
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let tsa = match &config.audit_tsa_url {
            None => None,
            Some(url) => Some(TsaClient {
                url: url.clone(),
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(config.audit_tsa_timeout_secs))
                    .build()?,
                cert: config
                    .audit_tsa_cert
                    .as_deref()
                    .map(read_cert)
                    .transpose()?,
            }),
        };
        Ok(Self {
            file: config.audit_witness_file.clone(),
            tsa,
            done: tokio::sync::Mutex::new(None),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.file.is_some() || self.tsa.is_some()
    }
}

/// What one witnessing step did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WitnessReport {
    /// Checkpoints witnessed now.
    pub witnessed: usize,
    /// Checkpoints left for the next tick because witnessing failed.
    pub behind: i64,
}

/// Witnesses, in order, every checkpoint newer than the last one witnessed. On a fresh
/// witness (an empty file, no token yet) it starts at the newest checkpoint. A TSA or file
/// failure stops the step, is logged and counted (`gatehouse_audit_witness_failures_total`,
/// `gatehouse_audit_checkpoints_unwitnessed`), and the same checkpoint is tried again next
/// tick. Store errors are returned.
pub async fn step(store: &dyn Store, w: &Witness, now: Millis) -> StoreResult<WitnessReport> {
    if !w.is_enabled() {
        return Ok(WitnessReport::default());
    }
    let mut done = w.done.lock().await;
    let newest = store.newest_checkpoint_id().await?;
    let mut after = match *done {
        Some(id) => id,
        None => match start_after(store, w, newest).await? {
            Ok(id) => id,
            Err(e) => return Ok(failed(&e, newest, newest)),
        },
    };
    *done = Some(after);
    let mut report = WitnessReport::default();
    loop {
        let batch = store.checkpoints_after(after, BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for cp in batch {
            if let Err(e) = witness_one(store, w, &cp, now).await? {
                report.behind = newest - after;
                let _ = failed(&e, cp.id, report.behind);
                return Ok(report);
            }
            after = cp.id;
            *done = Some(after);
            report.witnessed += 1;
        }
    }
    metrics::gauge!("gatehouse_audit_checkpoints_unwitnessed").set(0.0);
    Ok(report)
}

fn failed(e: &WitnessError, checkpoint: i64, behind: i64) -> WitnessReport {
    tracing::warn!(error = %e, checkpoint, "audit checkpoint not witnessed; will retry next tick");
    metrics::counter!("gatehouse_audit_witness_failures_total").increment(1);
    #[expect(clippy::cast_precision_loss, reason = "a gauge of a count")]
    metrics::gauge!("gatehouse_audit_checkpoints_unwitnessed").set(behind as f64);
    WitnessReport {
        witnessed: 0,
        behind,
    }
}

/// The checkpoint after which witnessing resumes: the file's last line, else the newest
/// stamped checkpoint (TSA only), else just before the newest checkpoint.
async fn start_after(
    store: &dyn Store,
    w: &Witness,
    newest: i64,
) -> StoreResult<Result<i64, WitnessError>> {
    let fresh = (newest - 1).max(0);
    if let Some(path) = &w.file {
        return Ok(match last_line(path) {
            Ok(Some(line)) => Ok(line.id),
            Ok(None) => Ok(fresh),
            Err(e) => Err(WitnessError::File(e)),
        });
    }
    Ok(Ok(store
        .newest_stamped_checkpoint()
        .await?
        .unwrap_or(fresh)))
}

async fn witness_one(
    store: &dyn Store,
    w: &Witness,
    cp: &StoredCheckpoint,
    now: Millis,
) -> StoreResult<Result<(), WitnessError>> {
    let Some(hash) = cp.hash() else {
        return Ok(Err(WitnessError::Malformed(cp.id)));
    };
    let token = match &w.tsa {
        None => None,
        Some(t) => match store.checkpoint_stamp(cp.id).await? {
            Some(kept) => Some(kept),
            None => match tsa::stamp(&t.client, &t.url, &hash, t.cert.as_ref()).await {
                Ok(der) => Some(
                    store
                        .save_checkpoint_stamp(cp.id, &B64.encode(der), now)
                        .await?,
                ),
                Err(e) => return Ok(Err(e.into())),
            },
        },
    };
    if let Some(path) = &w.file {
        let line = WitnessLine::new(cp, &hash, token);
        let path = path.clone();
        let written = tokio::task::spawn_blocking(move || append_line(&path, &line))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        if let Err(e) = written {
            return Ok(Err(WitnessError::File(e)));
        }
    }
    Ok(Ok(()))
}

/// Appends `line` and fsyncs the file (and, when it was just created, its directory).
/// The file is only ever opened for appending.
fn append_line(path: &Path, line: &WitnessLine) -> std::io::Result<()> {
    let created = !path.exists();
    let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
    text.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    if created {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
    }
    Ok(())
}

/// The file's last complete line, if the file exists and has one.
fn last_line(path: &Path) -> std::io::Result<Option<WitnessLine>> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    f.seek(std::io::SeekFrom::Start(len.saturating_sub(TAIL)))?;
    let mut tail = String::new();
    f.read_to_string(&mut tail)?;
    let Some(last) = tail.lines().rev().find(|l| !l.trim().is_empty()) else {
        return Ok(None);
    };
    serde_json::from_str(last).map(Some).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "its last line is not a checkpoint line",
        )
    })
}

/// What the witness says about the database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WitnessCheck {
    /// Lines read and checked.
    pub lines: i64,
    pub first_id: Option<i64>,
    pub last_id: Option<i64>,
    /// Tokens whose hash was checked; `signatures_checked` says whether their signatures
    /// were checked too (only with the TSA's certificate).
    pub tokens_checked: i64,
    pub signatures_checked: bool,
    /// Database checkpoints newer than the witness's last line: not witnessed yet.
    pub unwitnessed: i64,
    /// The first checkpoint at which the database and the witness disagree, and how.
    pub bad_checkpoint: Option<i64>,
    pub problem: Option<String>,
}

impl WitnessCheck {
    pub fn agrees(&self) -> bool {
        self.problem.is_none()
    }

    fn fail(mut self, checkpoint: i64, message: &str) -> Self {
        self.bad_checkpoint = Some(checkpoint);
        self.problem = Some(format!("checkpoint #{checkpoint}: {message}"));
        self
    }
}

/// Holds the database's checkpoints to the witness file's `text`: every line must be a
/// checkpoint signed by `signer` whose hash matches its fields, the lines must be numbered
/// without a gap and link to each other, every witnessed checkpoint must be in the
/// database unchanged (with the same token, if the database keeps one), and every token
/// must stamp its line's hash (and verify with `tsa_cert`, given one).
pub fn verify_witness(
    text: &str,
    signer: &AuditSigner,
    db: &[StoredCheckpoint],
    db_tokens: &BTreeMap<i64, String>,
    tsa_cert: Option<&X509>,
) -> WitnessCheck {
    let mut out = WitnessCheck {
        signatures_checked: tsa_cert.is_some(),
        ..WitnessCheck::default()
    };
    let db: BTreeMap<i64, &StoredCheckpoint> = db.iter().map(|c| (c.id, c)).collect();
    let mut before: Option<WitnessLine> = None;
    for (n, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let line_no = n + 1;
        let Ok(line) = serde_json::from_str::<WitnessLine>(raw) else {
            let after = before.as_ref().map_or(0, |b| b.id);
            return out.fail(
                after + 1,
                &format!("line {line_no} of the witness is not a checkpoint line"),
            );
        };
        let id = line.id;
        let cp = line.checkpoint();
        let message = parse_hash(&cp.event_hash).and_then(|h| match &cp.prev_hash {
            None => Some(checkpoint_message(id, cp.event_seq, &h, cp.signed_at)),
            Some(p) => Some(checkpoint_message_v2(
                id,
                cp.event_seq,
                &h,
                cp.signed_at,
                &parse_hash(p)?,
            )),
        });
        let Some(message) = message else {
            return out.fail(id, &format!("line {line_no} holds a malformed hash"));
        };
        let hash = checkpoint_hash(&message);
        if parse_hash(&line.hash) != Some(hash) {
            return out.fail(
                id,
                &format!("line {line_no}'s hash does not match its fields"),
            );
        }
        if !signer.verify(&message, &line.signature) {
            return out.fail(
                id,
                &format!(
                    "line {line_no} is not signed by this installation's checkpoint key {}",
                    signer.key_id()
                ),
            );
        }
        if let Some(b) = &before {
            if id != b.id + 1 {
                return out.fail(
                    id,
                    &format!("the witness skips from checkpoint #{} to #{id}", b.id),
                );
            }
            if line.prev_hash.is_some() && line.prev_hash.as_deref() != Some(b.hash.as_str()) {
                return out.fail(
                    id,
                    &format!("line {line_no} does not link to the line before it"),
                );
            }
        }
        match db.get(&id) {
            None => {
                return out.fail(
                    id,
                    &format!(
                        "witnessed (event {}, hash {}) but missing from the database: checkpoints were removed",
                        line.event_seq, line.event_hash
                    ),
                )
            }
            Some(stored) if **stored != cp => {
                return out.fail(
                    id,
                    &format!(
                        "the database says event {} with hash {}, the witness event {} with hash {}: checkpoints were rewritten",
                        stored.event_seq, stored.event_hash, line.event_seq, line.event_hash
                    ),
                )
            }
            Some(_) => {}
        }
        if let Some(token) = &line.tsa_token {
            let Ok(der) = B64.decode(token) else {
                return out.fail(id, "its time-stamp token is not base64");
            };
            if let Err(e) = tsa::check_token(&der, &hash, tsa_cert) {
                return out.fail(id, &e.to_string());
            }
            if db_tokens.get(&id).is_some_and(|t| t != token) {
                return out.fail(
                    id,
                    "the database keeps another time-stamp token than the witness",
                );
            }
            out.tokens_checked += 1;
        }
        out.first_id.get_or_insert(id);
        out.last_id = Some(id);
        out.lines += 1;
        before = Some(line);
    }
    let last = out.last_id.unwrap_or(0);
    out.unwitnessed = i64::try_from(db.range(last + 1..).count()).unwrap_or(i64::MAX);
    out
}

/// Reads the witness file at `path` and checks the store against it.
pub async fn verify_store_witness(
    store: &dyn Store,
    path: &Path,
    tsa_cert: Option<&X509>,
) -> anyhow::Result<WitnessCheck> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the witness file {}: {e}", path.display()))?;
    let checkpoints = store.checkpoints().await?;
    let tokens: BTreeMap<i64, String> = store.checkpoint_stamps().await?.into_iter().collect();
    Ok(verify_witness(
        &text,
        store.audit_signer(),
        &checkpoints,
        &tokens,
        tsa_cert,
    ))
}

/// The check in a sentence or two for people.
pub fn describe(c: &WitnessCheck) -> String {
    if let Some(p) = &c.problem {
        return format!("WITNESS DISAGREES: {p}");
    }
    let Some(last) = c.last_id else {
        return "Witness: the file holds no checkpoint yet.".into();
    };
    let sigs = if c.signatures_checked {
        "signatures checked with the TSA certificate"
    } else {
        "signatures NOT checked (no TSA certificate given)"
    };
    format!(
        "Witness agrees: checkpoints #{} to #{last} ({} lines) match the database; {} time-stamp tokens stamp their checkpoints ({sigs}); {} newer checkpoints are not witnessed yet.",
        c.first_id.unwrap_or(last),
        c.lines,
        c.tokens_checked,
        c.unwitnessed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::chain::GENESIS;
    use crate::secrets::MasterKey;

    /// `n` chained checkpoints signed by `s`, and their witness lines.
    fn trail(s: &AuditSigner, n: i64) -> (Vec<StoredCheckpoint>, Vec<WitnessLine>) {
        let mut cps: Vec<StoredCheckpoint> = Vec::new();
        let mut lines = Vec::new();
        for id in 1..=n {
            let prev = cps.last().map_or(GENESIS, |c| c.hash().unwrap());
            let mut cp = StoredCheckpoint {
                id,
                event_seq: id * 3,
                event_hash: hex::encode([u8::try_from(id).unwrap(); 32]),
                signed_at: id * 60_000,
                key_id: s.key_id().into(),
                signature: String::new(),
                prev_hash: Some(hex::encode(prev)),
            };
            cp.signature = s.sign(&cp.message().unwrap());
            lines.push(WitnessLine::new(&cp, &cp.hash().unwrap(), None));
            cps.push(cp);
        }
        (cps, lines)
    }

    fn text(lines: &[WitnessLine]) -> String {
        lines
            .iter()
            .map(|l| serde_json::to_string(l).unwrap() + "\n")
            .collect()
    }

    fn check(s: &AuditSigner, db: &[StoredCheckpoint], lines: &[WitnessLine]) -> WitnessCheck {
        verify_witness(&text(lines), s, db, &BTreeMap::new(), None)
    }

    fn signer() -> AuditSigner {
        AuditSigner::generate(&MasterKey::generate()).0
    }

    #[test]
    fn an_agreeing_witness_counts_what_is_not_witnessed_yet() {
        let s = signer();
        let (db, lines) = trail(&s, 4);
        let c = check(&s, &db, &lines[1..3]);
        assert!(c.agrees(), "{c:?}");
        assert_eq!(
            (c.first_id, c.last_id, c.lines, c.unwitnessed),
            (Some(2), Some(3), 2, 1)
        );
    }

    #[test]
    fn each_disagreement_names_its_checkpoint() {
        let s = signer();
        let (db, lines) = trail(&s, 4);
        let named = |c: WitnessCheck, id: i64, words: &str| {
            assert_eq!(c.bad_checkpoint, Some(id), "{c:?}");
            assert!(c.problem.as_deref().unwrap().contains(words), "{c:?}");
        };

        let mut skip = lines.clone();
        skip.remove(1);
        named(check(&s, &db, &skip), 3, "skips from checkpoint #1 to #3");

        // A line re-signed with the key but linked to the wrong checkpoint.
        let mut unlinked = lines.clone();
        let mut cp = unlinked[2].checkpoint();
        cp.prev_hash = Some(hex::encode([9u8; 32]));
        cp.signature = s.sign(&cp.message().unwrap());
        unlinked[2] = WitnessLine::new(&cp, &cp.hash().unwrap(), None);
        named(
            check(&s, &db, &unlinked),
            3,
            "does not link to the line before",
        );

        let mut rehashed = lines.clone();
        rehashed[1].hash = hex::encode([1u8; 32]);
        named(
            check(&s, &db, &rehashed),
            2,
            "hash does not match its fields",
        );

        let other = signer();
        let (_, foreign) = trail(&other, 4);
        named(
            check(&s, &db, &foreign),
            1,
            "not signed by this installation",
        );

        named(check(&s, &db[..2], &lines), 3, "missing from the database");

        let (mut changed, _) = trail(&s, 4);
        changed[3].signed_at += 1;
        changed[3].signature = s.sign(&changed[3].message().unwrap());
        named(check(&s, &changed, &lines), 4, "checkpoints were rewritten");

        let mut torn = text(&lines);
        torn.push_str("{\"id\": 5, \"eve\n");
        let c = verify_witness(&torn, &s, &db, &BTreeMap::new(), None);
        assert_eq!(c.bad_checkpoint, Some(5), "{c:?}");

        let mut tokened = lines.clone();
        tokened[0].tsa_token = Some("not base64!".into());
        named(check(&s, &db, &tokened), 1, "not base64");

        tokened[0].tsa_token = Some(B64.encode(b"not a token"));
        named(check(&s, &db, &tokened), 1, "malformed");
    }
}
