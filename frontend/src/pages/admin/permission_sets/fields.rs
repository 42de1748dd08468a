//! The settings a permission set carries, as form fields that the create and the edit form
//! share: description, session duration, relay state, system policies (picked from the
//! catalogue, grouped by the provider whose accounts attach them) and the inline policy
//! (checked in place, in its own language); read with the shared rules.

use gatehouse_shared::cloud::Provider;
use gatehouse_shared::permission_sets::{PermissionSet, SystemPolicy};
use gatehouse_shared::validate::{
    inline_policy_length, system_policy_names, Description, Faults, RelayState, SessionDuration,
    DEFAULT_SESSION_SECS, MAX_INLINE_POLICY_CHARS, MAX_SYSTEM_POLICIES,
};
use leptos::prelude::*;

use crate::components::field::TextField;
use crate::components::form::FormState;
use crate::components::policy_editor::{PolicyCheck, PolicyEditor};

/// The heading of a provider's group in the picker, and what its policies are.
fn group_text(provider: Provider) -> (&'static str, &'static str) {
    match provider {
        Provider::Aws => (
            "AWS",
            "AWS managed policies (IAM policy language), attached to the role in AWS accounts.",
        ),
        Provider::Alibaba | Provider::Local => (
            "Alibaba Cloud (also local)",
            "Alibaba Cloud system policies (RAM policy language), attached to the role in \
             Alibaba Cloud accounts and evaluated by Gatehouse in local accounts.",
        ),
    }
}

/// Checkboxes for the system policy catalogue, grouped by provider, with a filter; at most
/// 20 can be chosen, of either provider (a role attaches those of its account's provider).
#[component]
fn PolicyPicker(
    prefix: &'static str,
    policies: Vec<SystemPolicy>,
    chosen: RwSignal<Vec<String>>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let full = move || chosen.with(|c| c.len() >= MAX_SYSTEM_POLICIES);
    let filter_id = format!("{prefix}-policy-filter");
    let groups = [Provider::Alibaba, Provider::Aws]
        .into_iter()
        .filter_map(|provider| {
            let members: Vec<SystemPolicy> = policies
                .iter()
                .filter(|p| (p.provider == Provider::Aws) == (provider == Provider::Aws))
                .cloned()
                .collect();
            (!members.is_empty()).then(|| {
                view! {
                    <PolicyGroup prefix provider policies=members chosen filter full />
                }
            })
        })
        .collect_view();
    view! {
        <fieldset class="policy-picker" class:field-invalid=move || error.with(Option::is_some)>
            <legend>"System policies"</legend>
            <div class="picker-head">
                <p class="hint" aria-live="polite">
                    {move || format!("{} chosen, at most {MAX_SYSTEM_POLICIES}.", chosen.with(Vec::len))}
                </p>
                <div class="picker-filter">
                    <label for=filter_id.clone() class="visually-hidden">"Filter system policies"</label>
                    <input
                        type="search"
                        id=filter_id
                        placeholder="Filter system policies"
                        autocomplete="off"
                        prop:value=move || filter.get()
                        on:input=move |ev| filter.set(event_target_value(&ev))
                    />
                </div>
            </div>
            {groups}
            {move || error.get().map(|message| view! { <p class="field-error">{message}</p> })}
        </fieldset>
    }
}

/// One provider's policies in the picker; hidden while the filter leaves none of them.
#[component]
fn PolicyGroup(
    prefix: &'static str,
    provider: Provider,
    policies: Vec<SystemPolicy>,
    chosen: RwSignal<Vec<String>>,
    filter: RwSignal<String>,
    full: impl Fn() -> bool + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let (heading, about) = group_text(provider);
    let heading_id = format!("{prefix}-policies-{}", provider.as_str());
    let labelled_by = heading_id.clone();
    let haystacks: Vec<String> = policies
        .iter()
        .map(|p| format!("{} {}", p.name, p.description).to_lowercase())
        .collect();
    let any_visible = move || {
        filter.with(|f| {
            let f = f.trim().to_lowercase();
            haystacks.iter().any(|h| h.contains(f.as_str()))
        })
    };
    let rows = policies
        .into_iter()
        .map(|p| {
            let id = format!("{prefix}-policy-{}", p.name);
            let haystack = format!("{} {}", p.name, p.description).to_lowercase();
            let visible =
                move || filter.with(|f| haystack.contains(f.trim().to_lowercase().as_str()));
            let name = p.name.clone();
            let is_chosen = {
                let name = name.clone();
                move || chosen.with(|c| c.contains(&name))
            };
            let toggle = move |ev| {
                let on = event_target_checked(&ev);
                let name = name.clone();
                chosen.update(|c| {
                    c.retain(|n| *n != name);
                    if on {
                        c.push(name);
                    }
                });
            };
            let desc_id = format!("{id}-description");
            view! {
                <li hidden=move || !visible()>
                    <input
                        type="checkbox"
                        id=id.clone()
                        aria-describedby=desc_id.clone()
                        prop:checked=is_chosen.clone()
                        disabled=move || full() && !is_chosen()
                        on:change=toggle
                    />
                    <div>
                        <label for=id>{p.name}</label>
                        <p class="hint" id=desc_id>{p.description}</p>
                        <details>
                            <summary>"Policy document"</summary>
                            <pre class="policy-doc">{p.document}</pre>
                        </details>
                    </div>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="policy-group" aria-labelledby=labelled_by hidden=move || !any_visible()>
            <h3 id=heading_id>{heading}</h3>
            <p class="hint">{about}</p>
            <ul class="policy-list">{rows}</ul>
        </section>
    }
}

/// The settings both forms share, checked with the shared rules.
pub(super) struct Settings {
    pub(super) description: String,
    pub(super) duration: i64,
    /// Empty: none.
    pub(super) relay_state: String,
    pub(super) system_policies: Vec<String>,
    /// Empty: none.
    pub(super) inline_policy: String,
}

/// The form's signals for the settings both forms share.
#[derive(Clone, Copy)]
pub(super) struct SettingsFields {
    pub(super) description: RwSignal<String>,
    pub(super) duration: RwSignal<String>,
    pub(super) relay_state: RwSignal<String>,
    pub(super) system_policies: RwSignal<Vec<String>>,
    pub(super) inline: PolicyCheck,
}

impl SettingsFields {
    pub(super) fn new(set: Option<&PermissionSet>) -> Self {
        Self {
            description: RwSignal::new(set.map(|s| s.description.clone()).unwrap_or_default()),
            duration: RwSignal::new(
                set.map_or(DEFAULT_SESSION_SECS, |s| s.session_duration_secs)
                    .to_string(),
            ),
            relay_state: RwSignal::new(set.and_then(|s| s.relay_state.clone()).unwrap_or_default()),
            system_policies: RwSignal::new(
                set.map(|s| s.system_policies.clone()).unwrap_or_default(),
            ),
            inline: PolicyCheck::new(
                set.and_then(|s| s.inline_policy.clone())
                    .unwrap_or_default(),
            ),
        }
    }

    /// Checks the fields with the shared rules, recording faults in `faults`.
    pub(super) fn parse(self, faults: &mut Faults) -> Option<Settings> {
        let description = faults.check(
            "description",
            Description::parse(&self.description.get_untracked()),
        );
        let duration = faults
            .check(
                "session_duration_secs",
                self.duration
                    .get_untracked()
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| {
                        "Enter the session duration in seconds, such as 3600.".to_string()
                    }),
            )
            .and_then(|secs| faults.check("session_duration_secs", SessionDuration::parse(secs)));
        let relay = self.relay_state.get_untracked();
        let relay_state = if relay.trim().is_empty() {
            Some(String::new())
        } else {
            faults
                .check("relay_state", RelayState::parse(&relay))
                .map(RelayState::into_inner)
        };
        let names = self.system_policies.get_untracked();
        let system_policies = faults
            .check("system_policies", system_policy_names(&names))
            .map(|()| names);
        let inline = self.inline.text.get_untracked();
        let inline_policy = faults
            .check("inline_policy", inline_policy_length(&inline))
            .map(|()| {
                if inline.trim().is_empty() {
                    String::new()
                } else {
                    inline
                }
            });
        Some(Settings {
            description: description?.into_inner(),
            duration: duration?.secs(),
            relay_state: relay_state?,
            system_policies: system_policies?,
            inline_policy: inline_policy?,
        })
    }

    /// Whether the inline policy may be sent: checked by the policy engine first, so a fault
    /// shows in place. Marks the form when it may not.
    pub(super) async fn inline_ok(self, form: FormState) -> bool {
        if self.inline.validate().await == Some(false) {
            form.busy.set(false);
            form.set_field_error(
                "inline_policy",
                "Correct the inline policy: what is wrong is said under it.",
            );
            form.error
                .set(Some("Check the fields marked below.".into()));
            return false;
        }
        true
    }
}

/// The fields of the settings, laid out for a `grid-form`.
#[component]
pub(super) fn SettingsInputs(
    prefix: &'static str,
    fields: SettingsFields,
    policies: Vec<SystemPolicy>,
    form: FormState,
) -> impl IntoView {
    let (description_id, duration_id, relay_id, inline_id) = match prefix {
        "new" => (
            "new-ps-description",
            "new-ps-duration",
            "new-ps-relay-state",
            "new-ps-inline-policy",
        ),
        _ => (
            "edit-ps-description",
            "edit-ps-duration",
            "edit-ps-relay-state",
            "edit-ps-inline-policy",
        ),
    };
    view! {
        <TextField id=description_id label="Description" value=fields.description autocomplete="off" error=form.field_error("description") />
        <TextField
            id=duration_id
            label="Session duration (seconds)"
            value=fields.duration
            kind="number"
            inputmode="numeric"
            autocomplete="off"
            hint="900 to 43,200 (15 minutes to 12 hours); 3,600 is one hour."
            error=form.field_error("session_duration_secs")
        />
        <TextField
            id=relay_id
            label="Relay state URL"
            value=fields.relay_state
            kind="url"
            autocomplete="off"
            placeholder="https://ecs.console.aliyun.com/"
            hint="Optional: the console page people land on."
            error=form.field_error("relay_state")
        />
        <PolicyPicker prefix policies chosen=fields.system_policies error=form.field_error("system_policies") />
        <PolicyEditor
            id=inline_id
            label="Inline policy"
            check=fields.inline
            hint="Optional, for what the system policies do not cover: a RAM policy (\"Version\": \"1\"), applied in Alibaba Cloud and local accounts, or an IAM policy (\"Version\": \"2012-10-17\"), applied in AWS accounts."
            max_chars=MAX_INLINE_POLICY_CHARS
            error=form.field_error("inline_policy")
        />
    }
}
