//! Property and fuzz tests of the parsers that read what an attacker sends, on stable Rust
//! with `proptest`: the RAM policy parser (`policy`), the STS request signatures of both
//! versions (`sts_signature`, beside the official Alibaba Cloud Python SDKs' signers) and the
//! SAML Response verifier (`saml`). Each property must hold for every case: no panic, and
//! nothing accepted that must be refused.
//!
//! `cargo test -p gatehouse --test fuzz` runs a few thousand cases of each property (the
//! defaults below); `PROPTEST_CASES=1000000` runs that many of each instead (BENCHMARKS.md
//! has the command and the results). Failures are not written to files: a case found is
//! kept as a named regression test beside its property.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its message"
)]

mod policy;
mod saml;
mod sts_signature;

use proptest::test_runner::Config;

/// `PROPTEST_CASES` when it is set, else `default` cases.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A proptest configuration of [`cases`]`(default)` cases, with no failure files.
pub fn config(default: u32) -> Config {
    Config {
        cases: cases(default),
        failure_persistence: None,
        // Rejections are counted against the cases; none of these properties filters much.
        max_global_rejects: u32::MAX,
        ..Config::default()
    }
}
