//! Status badges: a short word in a coloured pill that never relies on colour alone.

use gatehouse_shared::audit::Outcome;
use gatehouse_shared::permission_sets::ProvisioningStatus;
use leptos::prelude::*;

/// The colour family of a badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Warn,
    Bad,
    Neutral,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Good => "badge badge-good",
            Tone::Warn => "badge badge-warn",
            Tone::Bad => "badge badge-bad",
            Tone::Neutral => "badge",
        }
    }
}

#[component]
pub fn Badge(tone: Tone, #[prop(into)] text: String) -> impl IntoView {
    view! { <span class=tone.class()>{text}</span> }
}

/// The outcome of an audited action.
#[component]
pub fn OutcomeBadge(outcome: Outcome) -> impl IntoView {
    let tone = match outcome {
        Outcome::Success => Tone::Good,
        Outcome::Failure => Tone::Bad,
        Outcome::Denied => Tone::Warn,
    };
    view! { <Badge tone text=outcome.as_str() /> }
}

/// Where a permission set's RAM role in one account stands: `provisioning…` while a cloud
/// works on it, `failed` when its last attempt did, `drifted` when the cloud's role was
/// changed outside Gatehouse.
#[component]
pub fn ProvisioningBadge(status: ProvisioningStatus) -> impl IntoView {
    let (tone, text) = match status {
        ProvisioningStatus::Provisioned => (Tone::Good, "provisioned"),
        ProvisioningStatus::NeedsReprovisioning => (Tone::Warn, "needs re-provisioning"),
        ProvisioningStatus::NotProvisioned => (Tone::Neutral, "not provisioned"),
        ProvisioningStatus::Provisioning => (Tone::Neutral, "provisioning…"),
        ProvisioningStatus::Failed => (Tone::Bad, "failed"),
        ProvisioningStatus::Drifted => (Tone::Warn, "drifted"),
    };
    view! { <Badge tone text /> }
}
