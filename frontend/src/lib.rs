//! Gatehouse's single-page app, shipped as three bundles built from this one library so that
//! no first load carries every page (`gatehouse_shared::spa` says which paths each shows):
//!
//! - everyday (`src/main.rs`, files at the static root): sign-in, the portal, requests,
//!   approvals, break-glass, the root vault, my account;
//! - directory (`src/bin/directory.rs`, `dist/directory-app/`): users, groups, accounts,
//!   permission sets, the policy simulator;
//! - governance (`src/bin/governance.rs`, `dist/governance-app/`): access policies, identity
//!   providers, notifications, the audit trail.
//!
//! They share the shell, the API client and the components; a link from one bundle's pages
//! to another's is a full page load ([`app::use_go`]).

pub mod api;
pub mod app;
pub mod components;
pub mod pages;
pub mod session;
