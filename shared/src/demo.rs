//! `GET /api/v1/demo` and `DELETE /api/v1/demo`: the example company `gatehouse serve
//! --demo` made — whom to sign in as, and what each person shows — and its removal.

use serde::{Deserialize, Serialize};

/// The demo company, for administrators while it is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoGuide {
    /// What every demo person signs in with (the demo's own, printed at start-up).
    pub password: String,
    pub people: Vec<DemoPerson>,
    /// What the signed-in administrator can try at once.
    pub try_first: Vec<DemoStep>,
    /// How many things the demo made that are still recorded as its own.
    pub objects: usize,
}

/// One person of the demo company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoPerson {
    pub username: String,
    pub display_name: String,
    /// What they are in the company: "Engineer", "Root custodian (finance)"…
    pub role: String,
    /// What signing in as them shows.
    pub shows: String,
}

/// One thing to try, and the page it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoStep {
    /// The page's name, e.g. "Approvals".
    pub page: String,
    /// The page's path in the app, e.g. `/approvals`.
    pub href: String,
    pub what: String,
}

/// The answer to removing the demo company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoRemoved {
    /// Things removed (requests withdrawn and grants ended count as one each).
    pub removed: usize,
    /// Things the demo made that were already gone.
    pub already_gone: usize,
}
