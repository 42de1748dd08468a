//! Gatehouse: a self-hosted identity and access broker. One binary: the HTTP API and SPA,
//! local and federated sign-in, the directory, and the tamper-evident audit trail.
//! See ARCHITECTURE.md for how the capabilities fit together.

pub mod access_requests;
pub mod admission;
pub mod app;
pub mod audit;
pub mod auth;
pub mod break_glass;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod demo;
pub mod directory;
pub mod federation;
pub mod http;
pub mod jobs;
pub mod notifications;
pub mod permission_sets;
pub mod policy;
pub mod portal;
pub mod secrets;
pub mod store;
pub mod sts;

pub use app::run;

#[cfg(test)]
mod tidy;
