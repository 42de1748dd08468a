//! Gatehouse's integration tests: one binary (linked once), one module per capability, all
//! through HTTP against a server started on port 0. The database is SQLite unless
//! `TEST_DATABASE_URL` is a `postgres://` URL; then every test gets a fresh PostgreSQL
//! database of its own.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its message"
)]

mod access_requests;
mod audit;
mod audit_witness;
mod auth;
mod break_glass;
mod cloud;
mod cloud_aws;
mod cloud_aws_root;
mod crash_loop;
mod demo;
mod directory;
mod federation;
mod helpers;
mod notifications;
mod oidc;
mod outage;
mod overload;
mod permission_sets;
mod policies;
mod processes;
mod roles;
mod saml_corpus;
mod saml_http;
mod saml_support;
mod sdk;
mod spa;
mod store;
mod sts;
mod sts_lineage;
