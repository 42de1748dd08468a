//! Groups: the table of groups with their Gatehouse roles and member counts, the create
//! form, and one group's page with its members (add, remove), roles and deletion.

use gatehouse_shared::auth::Role;
use gatehouse_shared::directory::{CreateGroup, Group, GroupMember, UpdateGroup, User};
use gatehouse_shared::validate::{Faults, GroupName};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::api::{self, ErrorCode};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, Tone};
use crate::components::field::{CheckboxField, SelectField, TextField};
use crate::components::form::FormState;
use crate::components::loaded::{Empty, Loaded};
use crate::components::set_page_title;
use crate::components::table::DataTable;
use crate::session::use_session;

fn role_badges(roles: &[Role]) -> AnyView {
    if roles.is_empty() {
        view! { <span class="muted">"none"</span> }.into_any()
    } else {
        roles
            .iter()
            .map(|r| view! { <Badge tone=Tone::Neutral text=r.as_str() /> })
            .collect_view()
            .into_any()
    }
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Administrator => "Administrator — configures the directory, accounts and policies",
        Role::Auditor => "Auditor — reads and verifies the audit trail, changes nothing",
    }
}

/// One checkbox per role, bound to signals in the order of [`Role::ALL`].
#[component]
fn RoleChoices(prefix: &'static str, chosen: [RwSignal<bool>; 2]) -> impl IntoView {
    view! {
        <fieldset class="roles">
            <legend>"Roles"</legend>
            {Role::ALL
                .into_iter()
                .zip(chosen)
                .map(|(role, checked)| {
                    view! {
                        <CheckboxField id=format!("{prefix}-role-{}", role.as_str()) label=role_label(role) checked />
                    }
                })
                .collect_view()}
        </fieldset>
    }
}

fn chosen_roles(chosen: [RwSignal<bool>; 2]) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .zip(chosen)
        .filter(|(_, c)| c.get_untracked())
        .map(|(r, _)| r)
        .collect()
}

#[component]
pub fn GroupsPage() -> impl IntoView {
    set_page_title("Groups");
    let session = use_session();
    let can_write = Memo::new(move |_| session.has_role(Role::Administrator));
    let groups = LocalResource::new(api::groups);
    let notice = RwSignal::new(None::<String>);
    view! {
        <section class="page">
            <h1>"Groups"</h1>
            <Notice message=notice />
            <Loaded data=move || groups.get() loading="Loading groups…" let:list
                empty=Empty::list(|| view! { <p>"No groups yet."</p> })>
                <GroupTable groups=list />
            </Loaded>
            <Show when=move || can_write.get()>
                <CreateGroupForm on_created=move |group: Group| {
                    notice.set(Some(format!("Created group {}.", group.name)));
                    groups.refetch();
                } />
            </Show>
        </section>
    }
}

#[component]
fn GroupTable(groups: Vec<Group>) -> impl IntoView {
    view! {
        <DataTable caption="Groups" headers=&["Name", "Description", "Roles", "Members"]>
            {groups
                .into_iter()
                .map(|g| {
                    let href = format!("/admin/groups/{}", js_sys::encode_uri_component(&g.id));
                    view! {
                        <tr>
                            <th scope="row"><A href=href>{g.name}</A></th>
                            <td>{g.description}</td>
                            <td class="badges">{role_badges(&g.roles)}</td>
                            <td class="num">{g.member_count}</td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
    }
}

#[component]
fn CreateGroupForm(on_created: impl Fn(Group) + Copy + Send + Sync + 'static) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let chosen = [RwSignal::new(false), RwSignal::new(false)];
    let form = FormState::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut faults = Faults::new();
        let parsed = faults.check("name", GroupName::parse(&name.get_untracked()));
        let Some(parsed) = parsed.filter(|_| form.check(faults)) else {
            return;
        };
        let request = CreateGroup {
            name: parsed.into_inner(),
            description: description.get_untracked().trim().to_string(),
            roles: chosen_roles(chosen),
        };
        spawn_local(async move {
            match api::create_group(&request).await {
                Ok(group) => {
                    form.succeed(None);
                    name.set(String::new());
                    description.set(String::new());
                    for c in chosen {
                        c.set(false);
                    }
                    on_created(group);
                }
                Err(e) if e.code == ErrorCode::Conflict => {
                    form.busy.set(false);
                    form.error.set(Some("The group was not created.".into()));
                    form.set_field_error("name", "A group with this name already exists.");
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="create-group-heading">
            <h2 id="create-group-heading">"Create a group"</h2>
            <ErrorAlert error=form.error />
            <form on:submit=submit novalidate class="grid-form">
                <TextField
                    id="new-group-name"
                    label="Group name"
                    value=name
                    autocomplete="off"
                    hint="Letters, digits, '.', '_' and '-', e.g. release-approvers."
                    error=form.field_error("name")
                    required=true
                />
                <TextField id="new-group-description" label="Description" value=description autocomplete="off" error=form.field_error("description") />
                <RoleChoices prefix="new-group" chosen />
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>"Create group"</button>
                </div>
            </form>
        </section>
    }
}

/// Everything the group page shows, loaded together.
#[derive(Debug, Clone)]
struct GroupView {
    group: Group,
    members: Vec<GroupMember>,
    /// Everyone in the directory, for the "add member" picker (administrators only).
    users: Vec<User>,
}

#[component]
pub fn GroupDetailPage() -> impl IntoView {
    set_page_title("Group");
    let session = use_session();
    let can_write = Memo::new(move |_| session.has_role(Role::Administrator));
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let data = LocalResource::new(move || {
        let id = id.get();
        let with_users = can_write.get_untracked();
        async move {
            let group = api::group(&id).await?;
            let members = api::group_members(&id).await?;
            let users = if with_users {
                api::users().await?
            } else {
                Vec::new()
            };
            Ok::<_, api::ApiError>(GroupView {
                group,
                members,
                users,
            })
        }
    });
    let page = FormState::new();
    view! {
        <section class="page">
            <p class="crumbs"><A href="/admin/groups">"← All groups"</A></p>
            <Loaded data=move || data.get() loading="Loading group…" not_found="group" let:v>
                <GroupDetail v can_write page reload=move || data.refetch() />
            </Loaded>
        </section>
    }
}

#[component]
fn GroupDetail(
    v: GroupView,
    can_write: Memo<bool>,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    set_page_title(&format!("Group {}", v.group.name));
    let group_id = v.group.id.clone();
    let member_ids: Vec<String> = v.members.iter().map(|m| m.user_id.clone()).collect();
    let candidates: Vec<(String, String)> = v
        .users
        .iter()
        .filter(|u| !member_ids.contains(&u.id))
        .map(|u| (u.id.clone(), format!("{} ({})", u.display_name, u.username)))
        .collect();
    view! {
        <h1>"Group " {v.group.name.clone()}</h1>
        <ErrorAlert error=page.error />
        <Notice message=page.notice />
        <dl class="facts">
            <dt>"Description"</dt>
            <dd>{if v.group.description.is_empty() { "—".to_string() } else { v.group.description.clone() }}</dd>
            <dt>"Roles"</dt>
            <dd class="badges">{role_badges(&v.group.roles)}</dd>
            <dt>"IdP-managed"</dt>
            <dd>{if v.group.idp_managed { "Yes: an identity provider's groups claim may add members" } else { "No" }}</dd>
            <dt>"Members"</dt>
            <dd>{v.group.member_count}</dd>
        </dl>
        <section class="card" aria-labelledby="members-heading">
            <h2 id="members-heading">"Members"</h2>
            <Members group_id=group_id.clone() group_name=v.group.name.clone() members=v.members can_write page reload />
            <Show when=move || can_write.get()>
                <AddMember group_id=group_id.clone() candidates=candidates.clone() page reload />
            </Show>
        </section>
        <Show when=move || can_write.get()>
            <EditGroup group=v.group.clone() page reload />
            <DeleteGroup group=v.group.clone() page />
        </Show>
    }
}

#[component]
fn Members(
    group_id: String,
    group_name: String,
    members: Vec<GroupMember>,
    can_write: Memo<bool>,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    if members.is_empty() {
        return view! { <p>"This group has no members yet."</p> }.into_any();
    }
    let headers: &'static [&'static str] = if can_write.get_untracked() {
        &["Username", "Name", "Actions"]
    } else {
        &["Username", "Name"]
    };
    view! {
        <DataTable caption=format!("Members of {group_name}") headers>
            {members
                .into_iter()
                .map(|m| {
                    let remove = {
                        let group_id = group_id.clone();
                        let user_id = m.user_id.clone();
                        let username = m.username.clone();
                        move |_| {
                            if !page.start() {
                                return;
                            }
                            let group_id = group_id.clone();
                            let user_id = user_id.clone();
                            let username = username.clone();
                            spawn_local(async move {
                                match api::remove_group_member(&group_id, &user_id).await {
                                    Ok(()) => {
                                        page.succeed(Some(format!("Removed {username} from the group.")));
                                        reload();
                                    }
                                    Err(e) => page.fail(e),
                                }
                            });
                        }
                    };
                    let label = format!("Remove {}", m.username);
                    view! {
                        <tr>
                            <th scope="row">{m.username}</th>
                            <td>{m.display_name}</td>
                            <Show when=move || can_write.get()>
                                <td class="row-actions">
                                    <button type="button" class="secondary small" aria-label=label.clone() disabled=move || page.busy.get() on:click=remove.clone()>
                                        "Remove"
                                    </button>
                                </td>
                            </Show>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
    }
    .into_any()
}

#[component]
fn AddMember(
    group_id: String,
    candidates: Vec<(String, String)>,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    if candidates.is_empty() {
        return view! { <p class="muted">"Every user is already a member."</p> }.into_any();
    }
    let mut options = vec![(String::new(), "Choose a user…".to_string())];
    options.extend(candidates);
    let chosen = RwSignal::new(String::new());
    let form = FormState::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let user_id = chosen.get_untracked();
        if !form.start() {
            return;
        }
        if user_id.is_empty() {
            form.busy.set(false);
            form.set_field_error("user", "Choose the user to add.");
            return;
        }
        let group_id = group_id.clone();
        spawn_local(async move {
            match api::add_group_member(&group_id, &user_id).await {
                Ok(()) => {
                    form.succeed(None);
                    page.notice.set(Some("Added the user to the group.".into()));
                    reload();
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <ErrorAlert error=form.error />
        <form on:submit=submit class="inline-form">
            <SelectField id="add-member" label="User to add" value=chosen options=Signal::stored(options) error=form.field_error("user") />
            <button type="submit" disabled=move || form.busy.get()>"Add member"</button>
        </form>
    }
    .into_any()
}

#[component]
fn EditGroup(
    group: Group,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let description = RwSignal::new(group.description.clone());
    let chosen = Role::ALL.map(|r| RwSignal::new(group.roles.contains(&r)));
    let idp_managed = RwSignal::new(group.idp_managed);
    let form = FormState::new();
    let id = group.id.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let change = UpdateGroup {
            description: Some(description.get_untracked().trim().to_string()),
            roles: Some(chosen_roles(chosen)),
            idp_managed: Some(idp_managed.get_untracked()),
        };
        let id = id.clone();
        spawn_local(async move {
            match api::update_group(&id, &change).await {
                Ok(group) => {
                    form.succeed(None);
                    page.notice
                        .set(Some(format!("Saved group {}.", group.name)));
                    reload();
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="edit-group-heading">
            <h2 id="edit-group-heading">"Description, roles and IdP sync"</h2>
            <ErrorAlert error=form.error />
            <form on:submit=submit novalidate class="grid-form">
                <TextField id="edit-group-description" label="Description" value=description autocomplete="off" error=form.field_error("description") />
                <RoleChoices prefix="edit-group" chosen />
                <CheckboxField
                    id="edit-group-idp-managed".to_string()
                    label="IdP-managed"
                    checked=idp_managed
                    hint="Sign-in through an identity provider may add people to this group by its groups claim, even if the group gives a role, approves requests or holds root-credential custody."
                />
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>"Save changes"</button>
                </div>
            </form>
        </section>
    }
}

#[component]
fn DeleteGroup(group: Group, page: FormState) -> impl IntoView {
    let navigate = use_navigate();
    let confirming = RwSignal::new(false);
    let name = group.name.clone();
    let delete = move |_| {
        if !page.start() {
            return;
        }
        let id = group.id.clone();
        let name = group.name.clone();
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::delete_group(&id).await {
                Ok(()) => {
                    page.succeed(Some(format!("Deleted group {name}.")));
                    navigate("/admin/groups", leptos_router::NavigateOptions::default());
                }
                Err(e) => page.fail(e),
            }
        });
    };
    view! {
        <section class="card danger-zone" aria-labelledby="delete-group-heading">
            <h2 id="delete-group-heading">"Delete this group"</h2>
            <p>"Members lose the roles this group gives them. The group's history stays in the audit trail."</p>
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button type="button" class="danger" on:click=move |_| confirming.set(true)>"Delete group"</button>
                }
            >
                <p class="confirm">
                    {format!("Delete {name} for good?")}
                    <button type="button" class="danger" disabled=move || page.busy.get() on:click=delete.clone()>"Yes, delete group"</button>
                    <button type="button" class="secondary" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </p>
            </Show>
        </section>
    }
}
