//! Directory administration: users, groups (with members) and cloud accounts.

pub mod accounts;
pub mod groups;
pub mod users;
