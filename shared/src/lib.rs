//! Gatehouse's JSON API: the request and response types, and the validation rules that
//! both the server and the SPA apply, so a person sees the same message before and after
//! a request. No I/O, no async: this crate builds for the browser too.

pub mod audit;
pub mod auth;
pub mod breakglass;
pub mod cloud;
pub mod demo;
pub mod directory;
pub mod error;
pub mod federation;
pub mod notifications;
pub mod permission_sets;
pub mod policies;
pub mod portal;
pub mod requests;
pub mod spa;
pub mod text;
pub mod validate;
