//! Cheap checks that keep the tree honest: the two migration folders match file for file,
//! every Rust module says what it is for in a `//!` line, and the policy engine stays pure.

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
