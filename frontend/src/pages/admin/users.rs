//! Users: the directory's people in a table; administrators create local users, disable
//! or enable them and delete them (after a confirmation).

use gatehouse_shared::auth::Role;
use gatehouse_shared::directory::{CreateUser, UpdateUser, User, UserSource};
use gatehouse_shared::validate::{DisplayName, Email, Faults, Password, Username};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, Tone};
use crate::components::field::TextField;
use crate::components::form::FormState;
use crate::components::loaded::Loaded;
use crate::components::set_page_title;
use crate::components::table::DataTable;
use crate::session::{use_session, SessionState};

#[component]
pub fn UsersPage() -> impl IntoView {
    set_page_title("Users");
    let session = use_session();
    let can_write = Memo::new(move |_| session.has_role(Role::Administrator));
    let users = LocalResource::new(api::users);
    let page = FormState::new();
    let reload = move || users.refetch();

    view! {
        <section class="page">
            <h1>"Users"</h1>
            <ErrorAlert error=page.error />
            <Notice message=page.notice />
            <Loaded data=move || users.get() loading="Loading users…" let:list>
                <UserTable users=list can_write page reload />
            </Loaded>
            <Show when=move || can_write.get()>
                <CreateUserForm on_created=move |user: User| {
                    page.notice.set(Some(format!("Created user {}.", user.username)));
                    reload();
                } />
            </Show>
        </section>
    }
}

#[component]
fn UserTable(
    users: Vec<User>,
    can_write: Memo<bool>,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    if users.is_empty() {
        return view! { <p>"No users yet."</p> }.into_any();
    }
    let headers: &'static [&'static str] = if can_write.get_untracked() {
        &[
            "Username", "Name", "E-mail", "Source", "Groups", "MFA", "Status", "Actions",
        ]
    } else {
        &[
            "Username", "Name", "E-mail", "Source", "Groups", "MFA", "Status",
        ]
    };
    view! {
        <DataTable caption="Users" wide=true headers>
            {users
                .into_iter()
                .map(|user| view! { <UserRow user can_write page reload /> })
                .collect_view()}
        </DataTable>
    }
    .into_any()
}

#[component]
fn UserRow(
    user: User,
    can_write: Memo<bool>,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let busy = RwSignal::new(false);
    // Nobody disables or deletes the account they are signed in with from here.
    let is_me = use_session()
        .state
        .with_untracked(|s| matches!(s, SessionState::SignedIn(me) if me.user.id == user.id));
    let groups = if user.groups.is_empty() {
        "—".to_string()
    } else {
        user.groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let source = match user.source {
        UserSource::Local => "local",
        UserSource::Federated => "SSO",
        UserSource::Scim => "SCIM",
    };
    let run = move |call: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<String, ApiError>>>,
    >| {
        busy.set(true);
        page.error.set(None);
        page.notice.set(None);
        spawn_local(async move {
            match call.await {
                Ok(notice) => {
                    page.notice.set(Some(notice));
                    reload();
                }
                Err(e) => page.error.set(Some(e.message)),
            }
            busy.set(false);
            confirming.set(false);
        });
    };
    let toggle = {
        let id = user.id.clone();
        let username = user.username.clone();
        let disabled = user.disabled;
        move |_| {
            let id = id.clone();
            let username = username.clone();
            run(Box::pin(async move {
                let change = UpdateUser {
                    disabled: Some(!disabled),
                    ..UpdateUser::default()
                };
                api::update_user(&id, &change).await?;
                Ok(if disabled {
                    format!("Enabled {username}.")
                } else {
                    format!("Disabled {username}.")
                })
            }));
        }
    };
    let delete = {
        let id = user.id.clone();
        let username = user.username.clone();
        move |_| {
            let id = id.clone();
            let username = username.clone();
            run(Box::pin(async move {
                api::delete_user(&id).await?;
                Ok(format!("Deleted {username}."))
            }));
        }
    };
    let toggle_label = format!(
        "{} {}",
        if user.disabled { "Enable" } else { "Disable" },
        user.username
    );
    let delete_label = format!("Delete {}", user.username);
    let disabled = user.disabled;
    let confirm_label = format!("Yes, delete {}", user.username);
    view! {
        <tr>
            <th scope="row">{user.username.clone()}</th>
            <td>{user.display_name}</td>
            <td>{user.email}</td>
            <td>{source}</td>
            <td>{groups}</td>
            <td>
                {if user.totp_enrolled {
                    view! { <Badge tone=Tone::Good text="TOTP" /> }.into_any()
                } else {
                    view! { <span class="muted">"none"</span> }.into_any()
                }}
            </td>
            <td>
                {if user.disabled {
                    view! { <Badge tone=Tone::Bad text="disabled" /> }
                } else {
                    view! { <Badge tone=Tone::Good text="active" /> }
                }}
            </td>
            {(can_write.get_untracked() && is_me).then(|| view! {
                <td class="muted">"This is you"</td>
            })}
            {(can_write.get_untracked() && !is_me).then(|| view! {
                <td class="row-actions">
                    {move || {
                        if confirming.get() {
                            view! {
                                <span class="confirm">
                                    "Delete this user?"
                                    <button type="button" class="danger small" aria-label=confirm_label.clone() disabled=move || busy.get() on:click=delete.clone()>
                                        "Delete"
                                    </button>
                                    <button type="button" class="secondary small" on:click=move |_| confirming.set(false)>
                                        "Cancel"
                                    </button>
                                </span>
                            }
                            .into_any()
                        } else {
                            view! {
                                <button type="button" class="secondary small" aria-label=toggle_label.clone() disabled=move || busy.get() on:click=toggle.clone()>
                                    {if disabled { "Enable" } else { "Disable" }}
                                </button>
                                <button type="button" class="danger small" aria-label=delete_label.clone() disabled=move || busy.get() on:click=move |_| confirming.set(true)>
                                    "Delete"
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
fn CreateUserForm(on_created: impl Fn(User) + Copy + Send + Sync + 'static) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let form = FormState::new();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut faults = Faults::new();
        let name = faults.check("username", Username::parse(&username.get_untracked()));
        let mail = faults.check("email", Email::parse(&email.get_untracked()));
        let shown = faults.check(
            "display_name",
            DisplayName::parse(&display_name.get_untracked()),
        );
        let typed_password = password.get_untracked();
        let secret = if typed_password.is_empty() {
            Some(None)
        } else {
            faults
                .check("password", Password::parse(&typed_password))
                .map(|p| Some(p.into_inner()))
        };
        if !form.check(faults) {
            return;
        }
        let (Some(name), Some(mail), Some(shown), Some(secret)) = (name, mail, shown, secret)
        else {
            return;
        };
        let request = CreateUser {
            username: name.into_inner(),
            email: mail.into_inner(),
            display_name: shown.into_inner(),
            password: secret,
        };
        spawn_local(async move {
            match api::create_user(&request).await {
                Ok(user) => {
                    form.succeed(None);
                    for field in [username, email, display_name, password] {
                        field.set(String::new());
                    }
                    on_created(user);
                }
                Err(e) => form.fail(e),
            }
        });
    };

    view! {
        <section class="card" aria-labelledby="create-user-heading">
            <h2 id="create-user-heading">"Create a user"</h2>
            <ErrorAlert error=form.error />
            <form on:submit=submit novalidate class="grid-form">
                <TextField id="new-user-username" label="Username" value=username autocomplete="off" error=form.field_error("username") required=true />
                <TextField id="new-user-email" label="E-mail" kind="email" value=email autocomplete="off" error=form.field_error("email") required=true />
                <TextField id="new-user-display-name" label="Display name" value=display_name autocomplete="off" error=form.field_error("display_name") required=true />
                <TextField
                    id="new-user-password"
                    label="Initial password"
                    kind="password"
                    value=password
                    autocomplete="new-password"
                    hint="At least 12 characters. Leave empty for someone who signs in through SSO."
                    error=form.field_error("password")
                />
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>"Create user"</button>
                </div>
            </form>
        </section>
    }
}
