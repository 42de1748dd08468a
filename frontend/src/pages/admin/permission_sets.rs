//! Permission sets (CloudSSO "access configurations"): the table of permission sets and the
//! create form (system policies from the catalogue, an inline policy checked in place); and
//! one permission set's page: its settings (edit), who it is assigned to on which account
//! (add, remove), the RAM role it becomes in each of those accounts (provision), deletion.

use gatehouse_shared::auth::Role;
use gatehouse_shared::directory::{Account, Group, User};
use gatehouse_shared::permission_sets::{
    Assignment, CreateAssignment, CreatePermissionSet, PermissionSet, PrincipalType,
    ProvisionRequest, ProvisionedRole, ProvisioningStatus, SystemPolicy, UpdatePermissionSet,
};
use gatehouse_shared::text::duration_text;
use gatehouse_shared::validate::{
    inline_policy_length, system_policy_names, Description, Faults, PermissionSetName, RelayState,
    SessionDuration, DEFAULT_SESSION_SECS, MAX_INLINE_POLICY_CHARS, MAX_SYSTEM_POLICIES,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::api::{self, ApiError, ErrorCode};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, ProvisioningBadge, Tone};
use crate::components::field::{SelectField, TextField};
use crate::components::form::FormState;
use crate::components::policy_editor::{PolicyCheck, PolicyEditor};
use crate::components::set_page_title;
use crate::components::table::DataTable;
use crate::components::time::Timestamp;
use crate::session::use_session;

fn detail_href(id: &str) -> String {
    format!(
        "/admin/permission-sets/{}",
        js_sys::encode_uri_component(id)
    )
}

/// "Payments production (1234567890123456)", or the bare ID for an account not (or no
/// longer) in the list.
fn account_text(accounts: &[Account], id: &str) -> String {
    accounts
        .iter()
        .find(|a| a.id == id)
        .map_or_else(|| id.to_string(), |a| format!("{} ({})", a.name, a.id))
}

/// An ARN that may wrap only after its `/` (`…:role/` | `GatehouseSSO-…`), never mid-word.
fn breakable(arn: &str) -> impl IntoView {
    arn.split_inclusive('/')
        .map(|part| view! { <span class="nowrap">{part.to_string()}</span><wbr /> })
        .collect_view()
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
                "A permission set says what people may do in a cloud account. Assigned to a user or group on an account, it becomes the RAM role "
                <code>"GatehouseSSO-<name>"</code>
                " there once provisioned."
            </p>
            <Notice message=notice />
            <Transition fallback=|| view! { <p class="muted" role="status">"Loading permission sets…"</p> }>
                {move || {
                    sets.get()
                        .map(|result| match result {
                            Ok(list) if list.is_empty() => view! { <p>"No permission sets yet."</p> }.into_any(),
                            Ok(list) => view! { <PermissionSetTable sets=list /> }.into_any(),
                            Err(e) => view! { <ErrorAlert error=Signal::stored(Some(e.message)) /> }.into_any(),
                        })
                }}
            </Transition>
            <Show when=move || can_write.get()>
                <Transition fallback=|| view! { <p class="muted" role="status">"Loading system policies…"</p> }>
                    {move || {
                        catalogue
                            .get()
                            .map(|result| match result {
                                Ok(policies) => view! {
                                    <CreatePermissionSetForm policies on_created=move |set: PermissionSet| {
                                        notice.set(Some(format!(
                                            "Created permission set {}. Open it to assign it on accounts and provision its role.",
                                            set.name
                                        )));
                                        sets.refetch();
                                    } />
                                }
                                .into_any(),
                                Err(e) => view! { <ErrorAlert error=Signal::stored(Some(e.message)) /> }.into_any(),
                            })
                    }}
                </Transition>
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

/// Checkboxes for the system policy catalogue, with a filter; at most 20 can be chosen.
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
            <ul class="policy-list">{rows}</ul>
            {move || error.get().map(|message| view! { <p class="field-error">{message}</p> })}
        </fieldset>
    }
}

/// The settings both forms share, checked with the shared rules.
struct Settings {
    description: String,
    duration: i64,
    /// Empty: none.
    relay_state: String,
    system_policies: Vec<String>,
    /// Empty: none.
    inline_policy: String,
}

/// The form's signals for the settings both forms share.
#[derive(Clone, Copy)]
struct SettingsFields {
    description: RwSignal<String>,
    duration: RwSignal<String>,
    relay_state: RwSignal<String>,
    system_policies: RwSignal<Vec<String>>,
    inline: PolicyCheck,
}

impl SettingsFields {
    fn new(set: Option<&PermissionSet>) -> Self {
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
    fn parse(self, faults: &mut Faults) -> Option<Settings> {
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
    async fn inline_ok(self, form: FormState) -> bool {
        if self.inline.validate().await == Some(false) {
            form.busy.set(false);
            form.set_field_error(
                "inline_policy",
                "Correct the inline policy at the place marked.",
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
fn SettingsInputs(
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
            hint="Optional: a RAM policy document (version 1) for what the system policies do not cover."
            max_chars=MAX_INLINE_POLICY_CHARS
            error=form.field_error("inline_policy")
        />
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
                    <p class="hint role-preview">"RAM role: " <code>{role_preview}</code></p>
                </div>
                <SettingsInputs prefix="new" fields policies form />
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>"Create permission set"</button>
                </div>
            </form>
        </section>
    }
}

// --- one permission set ------------------------------------------------------------------

#[component]
pub fn PermissionSetDetailPage() -> impl IntoView {
    set_page_title("Permission set");
    let session = use_session();
    let can_write = Memo::new(move |_| session.has_role(Role::Administrator));
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let set = LocalResource::new(move || {
        let id = id.get();
        async move { api::permission_set(&id).await }
    });
    let page = FormState::new();
    view! {
        <section class="page">
            <p class="crumbs"><A href="/admin/permission-sets">"← All permission sets"</A></p>
            <Transition fallback=|| view! { <p class="muted" role="status">"Loading permission set…"</p> }>
                {move || {
                    set.get()
                        .map(|result| match result {
                            Ok(ps) => {
                                set_page_title(&format!("Permission set {}", ps.name));
                                view! { <PermissionSetDetail ps can_write page reload=move || set.refetch() /> }.into_any()
                            }
                            Err(e) if e.code == ErrorCode::NotFound => view! {
                                <h1>"Permission set not found"</h1>
                                <p>"There is no such permission set; it may have been deleted."</p>
                            }
                            .into_any(),
                            Err(e) => view! { <ErrorAlert error=Signal::stored(Some(e.message)) /> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

/// Users and groups that can be assigned (administrators only).
#[derive(Debug, Clone, Default)]
struct Principals {
    users: Vec<User>,
    groups: Vec<Group>,
}

#[component]
fn PermissionSetDetail(
    ps: PermissionSet,
    can_write: Memo<bool>,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = ps.id.clone();
    let roles = LocalResource::new({
        let id = id.clone();
        move || {
            let id = id.clone();
            async move { api::permission_set_roles(&id).await }
        }
    });
    let assignments = LocalResource::new({
        let id = id.clone();
        move || {
            let id = id.clone();
            async move { api::assignments_of(&id).await }
        }
    });
    let accounts = LocalResource::new(api::accounts);
    let catalogue = LocalResource::new(api::system_policies);
    let principals = LocalResource::new(move || {
        let admin = can_write.get_untracked();
        async move {
            if admin {
                Ok::<_, ApiError>(Principals {
                    users: api::users().await?,
                    groups: api::groups().await?,
                })
            } else {
                Ok(Principals::default())
            }
        }
    });
    let simulate_href = format!(
        "/admin/simulator?permission_set={}",
        js_sys::encode_uri_component(&id)
    );
    let changed = move || {
        roles.refetch();
        assignments.refetch();
    };
    let (assign_id, roles_id) = (id.clone(), id.clone());
    let assign_name = ps.name.clone();
    let (settings_ps, delete_ps) = (ps.clone(), ps.clone());
    let (name, role_name, version) = (ps.name.clone(), ps.role_name.clone(), ps.version);
    view! {
        <div class="title-row">
            <h1>"Permission set " {name}</h1>
            <a href=simulate_href class="button secondary">"Test in the policy simulator"</a>
        </div>
        <ErrorAlert error=page.error />
        <Notice message=page.notice />
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading system policies…"</p> }>
            {move || {
                catalogue
                    .get()
                    .map(|result| {
                        let policies = result.unwrap_or_default();
                        view! { <SettingsCard ps=settings_ps.clone() policies can_write page reload /> }
                    })
            }}
        </Transition>
        <section class="card" aria-labelledby="assignments-heading">
            <h2 id="assignments-heading">"Assignments"</h2>
            <p class="hint">"Users and groups who may use this permission set, and on which account."</p>
            <Transition fallback=|| view! { <p class="muted" role="status">"Loading assignments…"</p> }>
                {move || {
                        let id = assign_id.clone();
                        let list = assignments.get()?;
                        let accounts = accounts.get()?;
                        let principals = principals.get()?;
                        Some(match (list, accounts, principals) {
                            (Ok(list), Ok(accounts), Ok(principals)) => view! {
                                <Assignments set_name=assign_name.clone() list accounts=accounts.clone() can_write page changed />
                                <Show when=move || can_write.get()>
                                    <AddAssignment
                                        permission_set_id=id.clone()
                                        accounts=accounts.clone()
                                        principals=principals.clone()
                                        page
                                        changed
                                    />
                                </Show>
                            }
                            .into_any(),
                            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                                view! { <ErrorAlert error=Signal::stored(Some(e.message)) /> }.into_any()
                            }
                        })
                }}
            </Transition>
        </section>
        <section class="card" aria-labelledby="roles-heading">
            <h2 id="roles-heading">"Provisioning"</h2>
            <p class="hint">
                "In each account it is assigned on, this permission set becomes the RAM role "
                <code>{role_name}</code>
                ". Provisioning creates or updates that role at the permission set's current version (now "
                {version}
                ")."
            </p>
            <Transition fallback=|| view! { <p class="muted" role="status">"Loading roles…"</p> }>
                {move || {
                    let list = roles.get()?;
                    let accounts = accounts.get()?;
                    Some(match (list, accounts) {
                        (Ok(list), Ok(accounts)) => view! {
                            <Roles permission_set_id=roles_id.clone() list accounts can_write page reload=move || roles.refetch() />
                        }
                        .into_any(),
                        (Err(e), _) | (_, Err(e)) => view! { <ErrorAlert error=Signal::stored(Some(e.message)) /> }.into_any(),
                    })
                }}
            </Transition>
        </section>
        <Show when=move || can_write.get()>
            <DeletePermissionSet ps=delete_ps.clone() page />
        </Show>
    }
}

/// What the permission set grants, read-only; administrators switch to the edit form.
#[component]
fn SettingsCard(
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
                                            <li><code>{p.name}</code>" "<span class="muted">{p.description}</span></li>
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

#[component]
fn Assignments(
    set_name: String,
    list: Vec<Assignment>,
    accounts: Vec<Account>,
    can_write: Memo<bool>,
    page: FormState,
    changed: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p>"Not assigned to anyone yet."</p> }.into_any();
    }
    let headers: &'static [&'static str] = if can_write.get_untracked() {
        &["Principal", "Type", "Account", "Assigned", "Actions"]
    } else {
        &["Principal", "Type", "Account", "Assigned"]
    };
    view! {
        <DataTable caption=format!("Assignments of {set_name}") wide=true headers>
            {list
                .into_iter()
                .map(|a| {
                    let account = account_text(&accounts, &a.account_id);
                    view! { <AssignmentRow a account can_write page changed /> }
                })
                .collect_view()}
        </DataTable>
    }
    .into_any()
}

#[component]
fn AssignmentRow(
    a: Assignment,
    account: String,
    can_write: Memo<bool>,
    page: FormState,
    changed: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let what = format!("{} on {}", a.principal_name, a.account_id);
    let remove = {
        let id = a.id.clone();
        let what = what.clone();
        move |_| {
            if !page.start() {
                return;
            }
            let id = id.clone();
            let what = what.clone();
            spawn_local(async move {
                match api::delete_assignment(&id).await {
                    Ok(()) => {
                        page.succeed(Some(format!("Removed the assignment of {what}.")));
                        changed();
                    }
                    Err(e) => {
                        confirming.set(false);
                        page.fail(e);
                    }
                }
            });
        }
    };
    let remove_label = format!("Remove assignment of {what}");
    let confirm_label = format!("Yes, remove assignment of {what}");
    let kind = match a.principal_type {
        PrincipalType::User => "user",
        PrincipalType::Group => "group",
    };
    view! {
        <tr>
            <th scope="row">{a.principal_name}</th>
            <td><Badge tone=Tone::Neutral text=kind /></td>
            <td>{account}</td>
            <td class="nowrap"><Timestamp at=a.created_at /></td>
            {can_write.get_untracked().then(|| view! {
                <td class="row-actions">
                    {move || {
                        if confirming.get() {
                            view! {
                                <span class="confirm">
                                    "Remove this access?"
                                    <button type="button" class="danger small" aria-label=confirm_label.clone() disabled=move || page.busy.get() on:click=remove.clone()>
                                        "Remove"
                                    </button>
                                    <button type="button" class="secondary small" on:click=move |_| confirming.set(false)>
                                        "Cancel"
                                    </button>
                                </span>
                            }
                            .into_any()
                        } else {
                            view! {
                                <button type="button" class="secondary small" aria-label=remove_label.clone() on:click=move |_| confirming.set(true)>
                                    "Remove"
                                </button>
                            }
                            .into_any()
                        }
                    }}
                </td>
            })}
        </tr>
    }
}

#[component]
fn AddAssignment(
    permission_set_id: String,
    accounts: Vec<Account>,
    principals: Principals,
    page: FormState,
    changed: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let kind = RwSignal::new("user".to_string());
    let user = RwSignal::new(String::new());
    let group = RwSignal::new(String::new());
    let account = RwSignal::new(String::new());
    let form = FormState::new();
    let kinds = Signal::stored(vec![
        ("user".to_string(), "User".to_string()),
        ("group".to_string(), "Group".to_string()),
    ]);
    let mut user_options = vec![(String::new(), "Choose a user…".to_string())];
    user_options.extend(
        principals
            .users
            .iter()
            .map(|u| (u.id.clone(), format!("{} ({})", u.display_name, u.username))),
    );
    let mut group_options = vec![(String::new(), "Choose a group…".to_string())];
    group_options.extend(
        principals
            .groups
            .iter()
            .map(|g| (g.id.clone(), g.name.clone())),
    );
    let mut account_options = vec![(String::new(), "Choose an account…".to_string())];
    account_options.extend(
        accounts
            .iter()
            .map(|a| (a.id.clone(), format!("{} ({})", a.name, a.id))),
    );
    if accounts.is_empty() {
        return view! {
            <p class="muted">
                "There are no accounts to assign on yet. " <A href="/admin/accounts">"Add an account"</A> " first."
            </p>
        }
        .into_any();
    }
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let principal_type =
            PrincipalType::parse(&kind.get_untracked()).unwrap_or(PrincipalType::User);
        let principal_id = match principal_type {
            PrincipalType::User => user.get_untracked(),
            PrincipalType::Group => group.get_untracked(),
        };
        let mut faults = Faults::new();
        if principal_id.is_empty() {
            faults.push(
                principal_type.as_str(),
                format!("Choose the {} to assign.", principal_type.as_str()),
            );
        }
        if account.with_untracked(String::is_empty) {
            faults.push("account_id", "Choose the account.");
        }
        if !form.check(faults) {
            return;
        }
        let request = CreateAssignment {
            principal_type,
            principal_id,
            account_id: account.get_untracked(),
            permission_set_id: permission_set_id.clone(),
        };
        spawn_local(async move {
            match api::create_assignment(&request).await {
                Ok(a) => {
                    form.succeed(None);
                    page.error.set(None);
                    page.notice.set(Some(format!(
                        "Assigned to {} on account {}. Provision the role there so it can be used.",
                        a.principal_name, a.account_id
                    )));
                    user.set(String::new());
                    group.set(String::new());
                    account.set(String::new());
                    changed();
                }
                Err(e) if e.code == ErrorCode::Conflict => {
                    form.busy.set(false);
                    form.error.set(Some(
                        "This user or group already has this permission set on that account."
                            .into(),
                    ));
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <h3 class="subhead">"Add an assignment"</h3>
        <ErrorAlert error=form.error />
        <form on:submit=submit novalidate class="inline-form">
            <SelectField id="assign-type" label="Assign to" value=kind options=kinds />
            <Show
                when=move || kind.get() == "group"
                fallback=move || view! {
                    <SelectField id="assign-user" label="User" value=user options=Signal::stored(user_options.clone()) error=form.field_error("user") />
                }
            >
                <SelectField id="assign-group" label="Group" value=group options=Signal::stored(group_options.clone()) error=form.field_error("group") />
            </Show>
            <SelectField id="assign-account" label="Account" value=account options=Signal::stored(account_options.clone()) error=form.field_error("account_id") />
            <button type="submit" disabled=move || form.busy.get()>"Assign"</button>
        </form>
    }
    .into_any()
}

#[component]
fn Roles(
    permission_set_id: String,
    list: Vec<ProvisionedRole>,
    accounts: Vec<Account>,
    can_write: Memo<bool>,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    if list.is_empty() {
        return view! {
            <p>"Not assigned on any account yet, so there is no role to provision. Add an assignment above."</p>
        }
        .into_any();
    }
    let busy = RwSignal::new(false);
    let pending = list
        .iter()
        .filter(|r| r.status != ProvisioningStatus::Provisioned)
        .count();
    let provision = move |account_ids: Option<Vec<String>>| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        page.error.set(None);
        page.notice.set(None);
        let id = permission_set_id.clone();
        spawn_local(async move {
            let request = ProvisionRequest { account_ids };
            match api::provision(&id, &request).await {
                Ok(roles) => {
                    let role = roles
                        .first()
                        .map(|r| r.role_name.clone())
                        .unwrap_or_default();
                    let n = roles.len();
                    page.notice.set(Some(if n == 1 {
                        format!("Provisioned the role {role} in 1 account.")
                    } else {
                        format!("Provisioned the role {role} in {n} accounts.")
                    }));
                    reload();
                }
                Err(e) => page.error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let headers: &'static [&'static str] = if can_write.get_untracked() {
        &["Account", "Role name", "ARN", "Status", "Actions"]
    } else {
        &["Account", "Role name", "ARN", "Status"]
    };
    let rows = list
        .into_iter()
        .map(|r| {
            let name = accounts
                .iter()
                .find(|a| a.id == r.account_id)
                .map(|a| a.name.clone());
            let version = match (r.status, r.provisioned_version) {
                (ProvisioningStatus::NeedsReprovisioning, Some(v)) => {
                    Some(format!("at version {v}, now {}", r.current_version))
                }
                (ProvisioningStatus::Provisioned, Some(v)) => Some(format!("version {v}")),
                _ => None,
            };
            let label = format!("Provision in account {}", r.account_id);
            let account_id = r.account_id.clone();
            let provision = provision.clone();
            view! {
                <tr>
                    <th scope="row">
                        {name}
                        <span class="hint block"><code>{r.account_id.clone()}</code></span>
                    </th>
                    <td class="nowrap"><code>{r.role_name}</code></td>
                    <td><code>{breakable(&r.arn)}</code></td>
                    <td>
                        <ProvisioningBadge status=r.status />
                        {version.map(|v| view! { <span class="hint block">{v}</span> })}
                        {r.provisioned_at.map(|at| view! {
                            <span class="hint block">"provisioned " <Timestamp at /></span>
                        })}
                    </td>
                    {can_write.get_untracked().then(|| {
                        if r.status == ProvisioningStatus::Provisioned {
                            view! { <td class="muted">"Up to date"</td> }.into_any()
                        } else {
                            let account_id = account_id.clone();
                            let provision = provision.clone();
                            view! {
                                <td class="row-actions">
                                    <button
                                        type="button"
                                        class="secondary small"
                                        aria-label=label.clone()
                                        disabled=move || busy.get()
                                        on:click=move |_| provision(Some(vec![account_id.clone()]))
                                    >
                                        "Provision"
                                    </button>
                                </td>
                            }
                            .into_any()
                        }
                    })}
                </tr>
            }
        })
        .collect_view();
    view! {
        <Show when=move || can_write.get()>
            <div class="actions provision-bar">
                <button
                    type="button"
                    disabled=move || busy.get() || pending == 0
                    on:click={
                        let provision = provision.clone();
                        move |_| provision(None)
                    }
                >
                    {move || if busy.get() { "Provisioning…" } else { "Provision all accounts" }}
                </button>
                <span class="hint">
                    {match pending {
                        0 => "Every role is up to date.".to_string(),
                        1 => "1 account needs provisioning.".to_string(),
                        n => format!("{n} accounts need provisioning."),
                    }}
                </span>
            </div>
        </Show>
        <DataTable caption="Roles in accounts" wide=true headers>
            {rows}
        </DataTable>
    }
    .into_any()
}

#[component]
fn DeletePermissionSet(ps: PermissionSet, page: FormState) -> impl IntoView {
    let navigate = use_navigate();
    let confirming = RwSignal::new(false);
    let form = FormState::new();
    let name = ps.name.clone();
    let delete = move |_| {
        if !form.start() {
            return;
        }
        let id = ps.id.clone();
        let name = ps.name.clone();
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::delete_permission_set(&id).await {
                Ok(()) => {
                    form.succeed(None);
                    page.notice
                        .set(Some(format!("Deleted permission set {name}.")));
                    navigate(
                        "/admin/permission-sets",
                        leptos_router::NavigateOptions::default(),
                    );
                }
                Err(e) if e.code == ErrorCode::Conflict => {
                    form.busy.set(false);
                    confirming.set(false);
                    form.error.set(Some(format!("Not deleted: {}", e.message)));
                }
                Err(e) => {
                    confirming.set(false);
                    form.fail(e);
                }
            }
        });
    };
    view! {
        <section class="card danger-zone" aria-labelledby="delete-ps-heading">
            <h2 id="delete-ps-heading">"Delete this permission set"</h2>
            <p>"Only a permission set that is assigned to no one can be deleted: remove its assignments first. Its history stays in the audit trail."</p>
            <ErrorAlert error=form.error />
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button type="button" class="danger" on:click=move |_| confirming.set(true)>"Delete permission set"</button>
                }
            >
                <p class="confirm">
                    {format!("Delete {name} for good?")}
                    <button type="button" class="danger" disabled=move || form.busy.get() on:click=delete.clone()>"Yes, delete permission set"</button>
                    <button type="button" class="secondary" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </p>
            </Show>
        </section>
    }
}
