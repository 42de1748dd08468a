//! A permission set's settings and policies: shown read-only, and the form administrators
//! edit them with (only what changed is sent).

use gatehouse_shared::cloud::Provider;
use gatehouse_shared::permission_sets::{PermissionSet, SystemPolicy, UpdatePermissionSet};
use gatehouse_shared::text::duration_text;
use gatehouse_shared::validate::Faults;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::fields::{SettingsFields, SettingsInputs};
use crate::api;
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::form::FormState;
use crate::components::time::Timestamp;

/// Whose a system policy is, as a short tag: where it applies.
fn provider_tag(provider: Provider) -> &'static str {
    match provider {
        Provider::Aws => "AWS",
        Provider::Alibaba | Provider::Local => "Alibaba Cloud (also local)",
    }
}

/// What the permission set grants, read-only; administrators switch to the edit form.
#[component]
pub(super) fn SettingsCard(
    ps: PermissionSet,
    policies: Vec<SystemPolicy>,
    can_write: Memo<bool>,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let editing = RwSignal::new(false);
    let chosen: Vec<SystemPolicy> = ps
        .system_policies
        .iter()
        .map(|name| {
            policies
                .iter()
                .find(|p| p.name == *name)
                .cloned()
                .unwrap_or_else(|| SystemPolicy {
                    name: name.clone(),
                    description: String::new(),
                    document: String::new(),
                    provider: if name.starts_with("arn:aws:") {
                        Provider::Aws
                    } else {
                        Provider::Alibaba
                    },
                })
        })
        .collect();
    let facts = {
        let ps = ps.clone();
        move || {
            let ps = ps.clone();
            let chosen = chosen.clone();
            view! {
                <dl class="facts">
                    <dt>"Role name"</dt>
                    <dd><code>{ps.role_name}</code></dd>
                    <dt>"Description"</dt>
                    <dd>{if ps.description.is_empty() { "—".to_string() } else { ps.description }}</dd>
                    <dt>"Session duration"</dt>
                    <dd>{format!("{} ({} seconds)", duration_text(ps.session_duration_secs), ps.session_duration_secs)}</dd>
                    <dt>"Relay state"</dt>
                    <dd>{ps.relay_state.map_or_else(|| view! { <span class="muted">"none (console home)"</span> }.into_any(), |r| view! { <code class="break">{r}</code> }.into_any())}</dd>
                    <dt>"Version"</dt>
                    <dd>{ps.version}</dd>
                    <dt>"Created"</dt>
                    <dd><Timestamp at=ps.created_at /></dd>
                    <dt>"Last changed"</dt>
                    <dd><Timestamp at=ps.updated_at /></dd>
                    <dt>"System policies"</dt>
                    <dd>
                        {if chosen.is_empty() {
                            view! { <span class="muted">"none"</span> }.into_any()
                        } else {
                            view! {
                                <ul class="plain">
                                    {chosen
                                        .into_iter()
                                        .map(|p| view! {
                                            <li>
                                                <code>{p.name}</code>" "
                                                <span class="badge">{provider_tag(p.provider)}</span>" "
                                                <span class="muted">{p.description}</span>
                                            </li>
                                        })
                                        .collect_view()}
                                </ul>
                            }
                            .into_any()
                        }}
                    </dd>
                    <dt>"Inline policy"</dt>
                    <dd>
                        {ps.inline_policy.map_or_else(
                            || view! { <span class="muted">"none"</span> }.into_any(),
                            |doc| view! { <pre class="policy-doc" aria-label="Inline policy document">{doc}</pre> }.into_any(),
                        )}
                    </dd>
                </dl>
            }
        }
    };
    view! {
        <section class="card" aria-labelledby="settings-heading">
            <div class="card-head">
                <h2 id="settings-heading">"Settings and policies"</h2>
                <Show when=move || can_write.get() && !editing.get()>
                    <button type="button" class="secondary" on:click=move |_| editing.set(true)>"Edit"</button>
                </Show>
            </div>
            <Show when=move || editing.get() fallback=facts.clone()>
                <EditPermissionSet ps=ps.clone() policies=policies.clone() page reload on_cancel=move || editing.set(false) />
            </Show>
        </section>
    }
}

#[component]
fn EditPermissionSet(
    ps: PermissionSet,
    policies: Vec<SystemPolicy>,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
    on_cancel: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let fields = SettingsFields::new(Some(&ps));
    let form = FormState::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut faults = Faults::new();
        let settings = fields.parse(&mut faults);
        if !form.check(faults) {
            return;
        }
        let Some(s) = settings else {
            return;
        };
        // Only what changed is sent: every change bumps the version and asks for
        // re-provisioning.
        let old_relay = ps.relay_state.clone().unwrap_or_default();
        let old_inline = ps.inline_policy.clone().unwrap_or_default();
        let change = UpdatePermissionSet {
            description: Some(s.description).filter(|d| *d != ps.description),
            session_duration_secs: Some(s.duration).filter(|d| *d != ps.session_duration_secs),
            relay_state: Some(s.relay_state).filter(|r| *r != old_relay),
            system_policies: Some(s.system_policies).filter(|p| *p != ps.system_policies),
            inline_policy: Some(s.inline_policy).filter(|p| *p != old_inline),
        };
        let nothing = change.description.is_none()
            && change.session_duration_secs.is_none()
            && change.relay_state.is_none()
            && change.system_policies.is_none()
            && change.inline_policy.is_none();
        if nothing {
            form.succeed(Some("Nothing has changed.".into()));
            return;
        }
        let id = ps.id.clone();
        spawn_local(async move {
            if !fields.inline_ok(form).await {
                return;
            }
            match api::update_permission_set(&id, &change).await {
                Ok(set) => {
                    form.succeed(None);
                    page.error.set(None);
                    page.notice.set(Some(format!(
                        "Saved permission set {} (now version {}). Roles provisioned at an earlier version need re-provisioning.",
                        set.name, set.version
                    )));
                    reload();
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <ErrorAlert error=form.error />
        <Notice message=form.notice />
        <p class="hint">"The name cannot change: it names the RAM role in every account."</p>
        <form on:submit=submit novalidate class="grid-form">
            <SettingsInputs prefix="edit" fields policies form />
            <div class="actions">
                <button type="submit" disabled=move || form.busy.get()>"Save changes"</button>
                <button type="button" class="secondary" on:click=move |_| on_cancel()>"Cancel"</button>
            </div>
        </form>
    }
}
