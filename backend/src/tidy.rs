//! Cheap checks that keep the tree honest: the two migration folders match file for file,
//! every Rust module says what it is for in a `//!` line, the policy engine stays pure, the
//! domain does not know the HTTP edge, the store knows no capability, and only `clock.rs`
//! reads the wall clock.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn migration_folders_match() {
    let root = repo_root().join("migrations");
    let sqlite = names(&root.join("sqlite"));
    let postgres = names(&root.join("postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must hold the same file names"
    );
}

#[test]
fn every_module_has_a_purpose_line() {
    let mut files = Vec::new();
    for crate_dir in ["backend/src", "shared/src", "frontend/src"] {
        rust_files(&repo_root().join(crate_dir), &mut files);
    }
    assert!(files.len() > 10);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            !fs::read_to_string(f)
                .unwrap()
                .trim_start()
                .starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a `//!` line: {missing:?}"
    );
}

#[test]
fn the_policy_engine_stands_alone() {
    // policy/ is a pure function of its inputs: no I/O, no clock, nothing else from the crate.
    let mut files = Vec::new();
    rust_files(&repo_root().join("backend/src/policy"), &mut files);
    assert!(!files.is_empty());
    let forbidden = [
        "crate::",
        "sqlx",
        "tokio",
        "axum",
        "std::fs",
        "std::net::Tcp",
        "SystemTime",
        "now_utc",
    ];
    let mut offenders = Vec::new();
    // Its own tests may read their fixture files.
    for f in files
        .iter()
        .filter(|f| !f.components().any(|c| c.as_os_str() == "tests"))
    {
        let text = fs::read_to_string(f).unwrap();
        for word in forbidden {
            if text.contains(word) {
                offenders.push(format!("{} uses {word}", f.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "policy/ must stay pure: {offenders:?}"
    );
}

/// `backend/src`.
fn src_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `backend/src`, as its path there (`auth/login.rs`) and its text.
fn src_files() -> Vec<(String, String)> {
    let root = src_root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut out: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(&root).unwrap();
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            (rel, fs::read_to_string(f).unwrap())
        })
        .collect();
    out.sort();
    assert!(out.len() > 10);
    out
}

/// A file's code without its comment lines: a doc link or a remark is not a dependency.
fn code(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The code, plus a `crate::x` line for each member `x` of a `crate::{…}` group, so that
/// `use crate::{app::AppState, clock}` names `crate::app` like `use crate::app::AppState`.
fn expand_groups(code: &str) -> String {
    let mut out = code.to_string();
    for (start, _) in code.match_indices("crate::{") {
        let body = &code[start + "crate::{".len()..];
        let (mut depth, mut item, mut items) = (0_u32, String::new(), Vec::new());
        for c in body.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                _ => item.push(c),
            }
        }
        items.push(item);
        for it in items {
            let head: String = it.trim().chars().take_while(|&c| ident_char(c)).collect();
            if !head.is_empty() {
                out.push_str(&format!("\ncrate::{head}"));
            }
        }
    }
    out
}

/// Which of `paths` (`crate::app`, `axum`) the code names, as whole path segments:
/// `crate::app` matches `crate::app::AppState` but not `crate::approvals`.
fn named<'a>(code: &str, paths: &[&'a str]) -> Vec<&'a str> {
    let code = expand_groups(code);
    paths
        .iter()
        .copied()
        .filter(|p| {
            code.match_indices(p).any(|(i, _)| {
                let before = code[..i].chars().next_back();
                let after = code[i + p.len()..].chars().next();
                !before.is_some_and(|c| ident_char(c) || c == ':') && !after.is_some_and(ident_char)
            })
        })
        .collect()
}

/// A rule with the list of today's offenders, `(file, what it imports, which items)`, the
/// third for the reader. Fails on an offender the list does not name, saying `fix`, and on
/// a listed entry that no longer offends, so that the list stays true: it only shrinks.
fn ratchet(
    rule: &str,
    list: &str,
    found: &BTreeSet<(String, String)>,
    known: &[(&str, &str, &str)],
    fix: &str,
) {
    let known: BTreeSet<(String, String)> = known
        .iter()
        .map(|&(f, what, _)| (f.to_string(), what.to_string()))
        .collect();
    let mut problems = Vec::new();
    for (file, what) in found.difference(&known) {
        problems.push(format!("  backend/src/{file} imports `{what}`"));
    }
    if !problems.is_empty() {
        problems.insert(0, format!("{rule}\n{fix}\nNew offenders:"));
    }
    let fixed: Vec<String> = known
        .difference(found)
        .map(|(file, what)| format!("  (\"{file}\", \"{what}\")"))
        .collect();
    if !fixed.is_empty() {
        problems.push(format!(
            "These no longer import what {list} in backend/src/tidy.rs says they do. \
             Good: delete their entries, so the list stays true (it only shrinks):\n{}",
            fixed.join("\n")
        ));
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// Files that touch HTTP: the edge itself, each capability's `routes.rs` (or
/// `<surface>_routes.rs`, for a second HTTP surface such as the STS RPC endpoint,
/// `sts/rpc_routes.rs`), and the start-up.
fn is_edge(file: &str) -> bool {
    file.starts_with("http/")
        || file == "routes.rs"
        || file.ends_with("/routes.rs")
        || file.ends_with("_routes.rs")
        || ["app.rs", "main.rs", "lib.rs", "tidy.rs"].contains(&file)
}

/// Domain modules that still know the edge today (none, since the list was emptied: keep it
/// so). Each is a file to fix: take the store,
/// `now` and an audit context instead of `AppState`, return a domain error instead of an
/// HTTP one, leave extractors and responses to `routes.rs`. THIS LIST ONLY SHRINKS: delete
/// an entry when its file is fixed; never add one.
const KNOWN_EDGE_IN_DOMAIN: &[(&str, &str, &str)] = &[];

#[test]
fn the_domain_does_not_know_the_edge() {
    let edge = ["crate::app", "crate::http", "axum", "axum_extra"];
    let mut found = BTreeSet::new();
    for (file, text) in src_files().iter().filter(|(f, _)| !is_edge(f)) {
        for what in named(&code(text), &edge) {
            found.insert((file.clone(), what.to_string()));
        }
    }
    ratchet(
        "A domain module (any file under backend/src but `routes.rs`, `http/`, `app.rs`, \
         `main.rs` and `lib.rs`) must not import `AppState`/`crate::app`, `crate::http` or axum.",
        "KNOWN_EDGE_IN_DOMAIN",
        &found,
        KNOWN_EDGE_IN_DOMAIN,
        "Do not add it to KNOWN_EDGE_IN_DOMAIN: have the function take what it uses (the \
         store, `now: Millis`, an `AuditCtx`, plain values) and return its own error type; \
         the handler in the capability's `routes.rs` extracts them from the request and \
         `http/error.rs` maps the error to a status.",
    );
}

/// The capabilities: the store serves them all, so it may import none of them.
///
/// `audit` is not among them here: its event types (`NewEvent`, `AuditCtx`, `StoredEvent`),
/// the hash chain and the checkpoint signer are the layer the store is built on, since every
/// audited change appends its event in the change's own transaction (as `clock.rs` and
/// `secrets.rs` are layers it uses). Audit's search, export and verification are routes and
/// domain functions that call the store, never the other way round.
const CAPABILITIES: &[&str] = &[
    "access_requests",
    "auth",
    "break_glass",
    "directory",
    "federation",
    "notifications",
    "permission_sets",
    "portal",
    "sts",
];

/// Store files that still import a capability today. THIS LIST ONLY SHRINKS: delete an
/// entry when its file is fixed; never add one.
const KNOWN_CAPABILITIES_IN_STORE: &[(&str, &str, &str)] = &[];

#[test]
fn the_store_knows_no_capability() {
    for cap in CAPABILITIES {
        assert!(
            src_root().join(cap).join("mod.rs").is_file(),
            "backend/src/{cap}/ is gone: update CAPABILITIES in backend/src/tidy.rs"
        );
    }
    let paths: Vec<String> = CAPABILITIES.iter().map(|c| format!("crate::{c}")).collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let mut found = BTreeSet::new();
    for (file, text) in src_files().iter().filter(|(f, _)| f.starts_with("store/")) {
        for what in named(&code(text), &paths) {
            found.insert((file.clone(), what.to_string()));
        }
    }
    ratchet(
        "Nothing under backend/src/store/ may import a capability (`crate::access_requests`, \
         `crate::sts`, …): the store serves them all.",
        "KNOWN_CAPABILITIES_IN_STORE",
        &found,
        KNOWN_CAPABILITIES_IN_STORE,
        "Do not add it to KNOWN_CAPABILITIES_IN_STORE: move what the store needs into the \
         store (or `shared`, `clock.rs`, `secrets.rs`), or return a store value or \
         `StoreError` and let the capability turn it into its own.",
    );
}

#[test]
fn only_clock_rs_reads_the_wall_clock() {
    // Beside clippy's `disallowed-methods`: this also sees macro bodies and `#[cfg]`-ed code.
    // (The SPA reads the browser's clock; that is another matter.)
    let reads = ["now_utc(", "SystemTime::now", "Utc::now", "Local::now"];
    let mut files: Vec<(String, String)> = src_files()
        .into_iter()
        .filter(|(f, _)| f != "clock.rs" && f != "tidy.rs")
        .map(|(f, text)| (format!("backend/src/{f}"), text))
        .collect();
    let mut shared = Vec::new();
    rust_files(&repo_root().join("shared/src"), &mut shared);
    for f in &shared {
        let rel = f.strip_prefix(repo_root()).unwrap().display().to_string();
        files.push((rel, fs::read_to_string(f).unwrap()));
    }
    let mut offenders = Vec::new();
    for (file, text) in &files {
        let code = code(text);
        for read in reads {
            if code.contains(read) {
                offenders.push(format!("  {file} calls `{read}`"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "\nOnly backend/src/clock.rs reads the wall clock, so that tests can set it:\n{}\n\
         Take `now` from the caller, or from `state.clock.now_ms()` in a handler or job \
         (convert with `clock::to_datetime`).\n",
        offenders.join("\n")
    );
}

#[test]
fn the_product_writes_only_its_own_audit_actions() {
    // `NewEvent::named` takes any string, for tests and benchmarks; Gatehouse itself writes
    // the actions `AuditAction` lists, so the audit page, notifications and the docs know
    // every action there is.
    let offenders: Vec<String> = src_files()
        .into_iter()
        .filter(|(f, text)| {
            f != "audit/mod.rs" && f != "tidy.rs" && code(text).contains("NewEvent::named(")
        })
        .map(|(f, _)| format!("  backend/src/{f}"))
        .collect();
    assert!(
        offenders.is_empty(),
        "\nThese write an audit action that `AuditAction` does not list:\n{}\n\
         Add the action to `AuditAction` (shared/src/audit.rs) and use `NewEvent::new`.\n",
        offenders.join("\n")
    );
}
