//! One permission set's page: its heading, settings, assignments and roles in their cards,
//! and its deletion.

use gatehouse_shared::auth::Role;
use gatehouse_shared::permission_sets::PermissionSet;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::assignments::{AddAssignment, Assignments, Principals};
use super::roles::Roles;
use super::settings::SettingsCard;
use crate::api::{self, ApiError, ErrorCode};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::form::FormState;
use crate::components::loaded::Loaded;
use crate::components::set_page_title;
use crate::session::use_session;

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
            <Loaded data=move || set.get() loading="Loading permission set…" not_found="permission set" let:ps>
                <PermissionSetDetail ps can_write page reload=move || set.refetch() />
            </Loaded>
        </section>
    }
}

#[component]
fn PermissionSetDetail(
    ps: PermissionSet,
    can_write: Memo<bool>,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    set_page_title(&format!("Permission set {}", ps.name));
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
        // Without the catalogue, the card still shows the policies' names.
        <Loaded
            data=move || catalogue.get().map(|result| Ok(result.unwrap_or_default()))
            loading="Loading system policies…"
            let:policies
        >
            <SettingsCard ps=settings_ps.clone() policies can_write page reload />
        </Loaded>
        <section class="card" aria-labelledby="assignments-heading">
            <h2 id="assignments-heading">"Assignments"</h2>
            <p class="hint">"Users and groups who may use this permission set, and on which account."</p>
            <Loaded
                data=move || {
                    let (list, accounts, principals) = (assignments.get()?, accounts.get()?, principals.get()?);
                    Some(list.and_then(|list| Ok((list, accounts?, principals?))))
                }
                loading="Loading assignments…"
                let:loaded
            >
                {
                    let (list, accounts, principals) = loaded;
                    let id = assign_id.clone();
                    view! {
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
                }
            </Loaded>
        </section>
        <section class="card" aria-labelledby="roles-heading">
            <h2 id="roles-heading">"Provisioning"</h2>
            <p class="hint">
                "In each account it is assigned on, this permission set becomes the role (RAM in Alibaba Cloud, IAM in AWS) "
                <code>{role_name}</code>
                ". Provisioning creates or updates that role at the permission set's current version (now "
                {version}
                ")."
            </p>
            <Loaded
                data=move || {
                    let (list, accounts) = (roles.get()?, accounts.get()?);
                    Some(list.and_then(|list| Ok((list, accounts?))))
                }
                loading="Loading roles…"
                let:loaded
            >
                {
                    let (list, accounts) = loaded;
                    view! {
                        <Roles permission_set_id=roles_id.clone() list accounts can_write page reload=move || roles.refetch() />
                    }
                }
            </Loaded>
        </section>
        <Show when=move || can_write.get()>
            <DeletePermissionSet ps=delete_ps.clone() page />
        </Show>
    }
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
