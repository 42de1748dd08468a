//! Administration: users, groups (with members), cloud accounts, permission sets (with
//! assignments and provisioning), access policies (eligibility and approval), identity
//! providers, notifications and the policy simulator.

pub mod access_policies;
pub mod accounts;
pub mod groups;
pub mod idps;
pub mod notifications;
pub mod permission_sets;
pub mod saml_trust;
pub mod simulator;
pub mod users;
