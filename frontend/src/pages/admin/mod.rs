//! Administration: users, groups (with members), cloud accounts, permission sets (with
//! assignments and provisioning), identity providers and the policy simulator.

pub mod accounts;
pub mod groups;
pub mod idps;
pub mod notifications;
pub mod permission_sets;
pub mod simulator;
pub mod users;
