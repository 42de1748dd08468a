//! Tests of the policy engine: JSON fixtures, fault positions, and randomized properties.

mod fixtures;
mod parse_errors;
mod properties;
