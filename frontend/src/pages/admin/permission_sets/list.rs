//! The list of permission sets and the form that creates one.

use gatehouse_shared::auth::Role;
use gatehouse_shared::permission_sets::{CreatePermissionSet, PermissionSet, SystemPolicy};
use gatehouse_shared::text::duration_text;
use gatehouse_shared::validate::{Faults, PermissionSetName, DEFAULT_SESSION_SECS};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use super::fields::{SettingsFields, SettingsInputs};
use crate::api::{self, ErrorCode};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::field::TextField;
use crate::components::form::FormState;
use crate::components::loaded::{Empty, Loaded};
use crate::components::set_page_title;
use crate::components::table::DataTable;
use crate::session::use_session;

fn detail_href(id: &str) -> String {
    format!(
        "/admin/permission-sets/{}",
        js_sys::encode_uri_component(id)
    )
}

/// The policies a permission set carries, in a few words.
fn policies_summary(set: &PermissionSet) -> String {
    let system = match set.system_policies.len() {
        0 => None,
        1 => Some("1 system policy".to_string()),
        n => Some(format!("{n} system policies")),
    };
    let inline = set
        .inline_policy
        .as_ref()
        .map(|_| "inline policy".to_string());
    match (system, inline) {
        (Some(s), Some(i)) => format!("{s} + {i}"),
        (Some(s), None) => s,
        (None, Some(i)) => i,
        (None, None) => "none".to_string(),
    }
}

#[component]
pub fn PermissionSetsPage() -> impl IntoView {
    set_page_title("Permission sets");
    let session = use_session();
    let can_write = Memo::new(move |_| session.has_role(Role::Administrator));
    let sets = LocalResource::new(api::permission_sets);
    let catalogue = LocalResource::new(api::system_policies);
    let notice = RwSignal::new(None::<String>);
    view! {
        <section class="page">
            <h1>"Permission sets"</h1>
            <p class="lead">
                "A permission set says what people may do in a cloud account. Assigned to a user or group on an account, it becomes the role "
                <code>"GatehouseSSO-<name>"</code>
                " there once provisioned: a RAM role in Alibaba Cloud, an IAM role in AWS."
            </p>
            <Notice message=notice />
            <Loaded data=move || sets.get() loading="Loading permission sets…" let:list
                empty=Empty::list(|| view! { <p>"No permission sets yet."</p> })>
                <PermissionSetTable sets=list />
            </Loaded>
            <Show when=move || can_write.get()>
                <Loaded data=move || catalogue.get() loading="Loading system policies…" let:policies>
                    <CreatePermissionSetForm policies on_created=move |set: PermissionSet| {
                        notice.set(Some(format!(
                            "Created permission set {}. Open it to assign it on accounts and provision its role.",
                            set.name
                        )));
                        sets.refetch();
                    } />
                </Loaded>
            </Show>
        </section>
    }
}

#[component]
fn PermissionSetTable(sets: Vec<PermissionSet>) -> impl IntoView {
    view! {
        <DataTable
            caption="Permission sets"
            wide=true
            headers=&["Name", "Description", "Session duration", "Role name", "Policies", "Version"]
        >
            {sets
                .into_iter()
                .map(|set| {
                    let summary = policies_summary(&set);
                    view! {
                        <tr>
                            <th scope="row"><A href=detail_href(&set.id)>{set.name}</A></th>
                            <td>{if set.description.is_empty() { "—".to_string() } else { set.description }}</td>
                            <td class="nowrap">{duration_text(set.session_duration_secs)}</td>
                            <td><code>{set.role_name}</code></td>
                            <td>{summary}</td>
                            <td class="num">{set.version}</td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
    }
}

#[component]
fn CreatePermissionSetForm(
    policies: Vec<SystemPolicy>,
    on_created: impl Fn(PermissionSet) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let fields = SettingsFields::new(None);
    let form = FormState::new();
    let role_preview = move || {
        name.with(|n| {
            let n = n.trim();
            if n.is_empty() {
                "GatehouseSSO-<name>".to_string()
            } else {
                format!("GatehouseSSO-{n}")
            }
        })
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut faults = Faults::new();
        let parsed_name = faults.check("name", PermissionSetName::parse(&name.get_untracked()));
        let settings = fields.parse(&mut faults);
        if !form.check(faults) {
            return;
        }
        let (Some(parsed_name), Some(settings)) = (parsed_name, settings) else {
            return;
        };
        let request = CreatePermissionSet {
            name: parsed_name.into_inner(),
            description: settings.description,
            session_duration_secs: Some(settings.duration),
            relay_state: Some(settings.relay_state).filter(|r| !r.is_empty()),
            system_policies: settings.system_policies,
            inline_policy: Some(settings.inline_policy).filter(|p| !p.is_empty()),
        };
        spawn_local(async move {
            if !fields.inline_ok(form).await {
                return;
            }
            match api::create_permission_set(&request).await {
                Ok(set) => {
                    form.succeed(None);
                    name.set(String::new());
                    fields.description.set(String::new());
                    fields.duration.set(DEFAULT_SESSION_SECS.to_string());
                    fields.relay_state.set(String::new());
                    fields.system_policies.set(Vec::new());
                    fields.inline.set(String::new());
                    on_created(set);
                }
                Err(e) if e.code == ErrorCode::Conflict => {
                    form.busy.set(false);
                    form.error
                        .set(Some("The permission set was not created.".into()));
                    form.set_field_error("name", "A permission set with this name already exists.");
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="create-ps-heading">
            <h2 id="create-ps-heading">"Create a permission set"</h2>
            <ErrorAlert error=form.error />
            <form on:submit=submit novalidate class="grid-form">
                <div class="field-group">
                    <TextField
                        id="new-ps-name"
                        label="Permission set name"
                        value=name
                        autocomplete="off"
                        maxlength=32
                        hint="Up to 32 letters, digits and '-'. It cannot change later."
                        error=form.field_error("name")
                        required=true
                    />
                    <p class="hint role-preview">"Role in each account (RAM or IAM): " <code>{role_preview}</code></p>
                </div>
                <SettingsInputs prefix="new" fields policies form />
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>"Create permission set"</button>
                </div>
            </form>
        </section>
    }
}
