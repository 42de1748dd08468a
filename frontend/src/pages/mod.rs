//! One module per page of the SPA.

pub mod admin;
pub mod approvals;
pub mod audit;
pub mod break_glass;
pub mod demo;
pub mod login;
pub mod me;
pub mod not_found;
pub mod portal;
pub mod requests;
