//! The shell: top bar (product, who is signed in, MFA state, sign-out), the navigation a
//! person's roles allow, and the router that maps every path to its page.

use gatehouse_shared::auth::Role;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Redirect, Route, Router, Routes, A};
use leptos_router::hooks::use_navigate;
use leptos_router::path;

use crate::api;
use crate::components::badge::{Badge, Tone};
use crate::pages;
use crate::session::{RequireAuth, Session, SessionState};

/// Who may open the directory pages: administrators change them, auditors read them.
pub const DIRECTORY_READERS: &[Role] = &[Role::Administrator, Role::Auditor];
/// Who may search and verify the audit trail.
pub const AUDIT_READERS: &[Role] = &[Role::Administrator, Role::Auditor];
/// Who manages webhook endpoints and reads the delivery log.
pub const NOTIFICATION_ADMINS: &[Role] = &[Role::Administrator];
/// Who may open permission sets and the policy simulator: administrators change permission
/// sets, auditors read them and simulate.
pub const POLICY_READERS: &[Role] = &[Role::Administrator, Role::Auditor];
/// Who may manage identity providers (the API allows administrators only).
pub const IDP_MANAGERS: &[Role] = &[Role::Administrator];

#[component]
pub fn App() -> impl IntoView {
    let session = Session::provide();
    let signed_in = move || matches!(session.state.get(), SessionState::SignedIn(_));
    view! {
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <Show when=signed_in>
                <TopBar />
            </Show>
            <main id="main" tabindex="-1">
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("/login") view=pages::login::LoginPage />
                    <Route
                        path=path!("/")
                        view=|| view! { <RequireAuth><Redirect path="/portal" /></RequireAuth> }
                    />
                    <Route
                        path=path!("/portal")
                        view=|| view! { <RequireAuth><pages::portal::PortalPage /></RequireAuth> }
                    />
                    <Route
                        path=path!("/requests")
                        view=|| view! { <RequireAuth><pages::requests::RequestsPage /></RequireAuth> }
                    />
                    <Route
                        path=path!("/approvals")
                        view=|| view! { <RequireAuth><pages::requests::ApprovalsPage /></RequireAuth> }
                    />
                    <Route
                        path=path!("/me")
                        view=|| view! { <RequireAuth><pages::me::MePage /></RequireAuth> }
                    />
                    <Route
                        path=path!("/admin/users")
                        view=|| {
                            view! {
                                <RequireAuth roles=DIRECTORY_READERS>
                                    <pages::admin::users::UsersPage />
                                </RequireAuth>
                            }
                        }
                    />
                    <Route
                        path=path!("/admin/groups")
                        view=|| {
                            view! {
                                <RequireAuth roles=DIRECTORY_READERS>
                                    <pages::admin::groups::GroupsPage />
                                </RequireAuth>
                            }
                        }
                    />
                    <Route
                        path=path!("/admin/groups/:id")
                        view=|| {
                            view! {
                                <RequireAuth roles=DIRECTORY_READERS>
                                    <pages::admin::groups::GroupDetailPage />
                                </RequireAuth>
                            }
                        }
                    />
                    <Route
                        path=path!("/admin/accounts")
                        view=|| {
                            view! {
                                <RequireAuth roles=DIRECTORY_READERS>
                                    <pages::admin::accounts::AccountsPage />
                                </RequireAuth>
                            }
                        }
                    />
                    <Route
                        path=path!("/admin/idps")
                        view=|| {
                            view! {
                                <RequireAuth roles=IDP_MANAGERS>
                                    <pages::admin::idps::IdpsPage />
                                </RequireAuth>
                            }
                        }
                    />
                    <Route
                        path=path!("/admin/permission-sets")
                        view=|| {
                            view! {
                                <RequireAuth roles=POLICY_READERS>
                                    <pages::admin::permission_sets::PermissionSetsPage />
                                </RequireAuth>
                            }
                        }
                    />
                    <Route
                        path=path!("/admin/permission-sets/:id")
                        view=|| {
                            view! {
                                <RequireAuth roles=POLICY_READERS>
                                    <pages::admin::permission_sets::PermissionSetDetailPage />
                                </RequireAuth>
                            }
                        }
                    />
                    <Route
                        path=path!("/admin/notifications")
                        view=|| {
                            view! {
                                <RequireAuth roles=NOTIFICATION_ADMINS>
                                    <pages::admin::notifications::NotificationsPage />
                                </RequireAuth>
                            }
                        }
                    />
                    <Route
                        path=path!("/admin/simulator")
                        view=|| {
                            view! {
                                <RequireAuth roles=POLICY_READERS>
                                    <pages::admin::simulator::SimulatorPage />
                                </RequireAuth>
                            }
                        }
                    />
                    <Route
                        path=path!("/break-glass")
                        view=|| view! { <RequireAuth><pages::break_glass::BreakGlassPage /></RequireAuth> }
                    />
                    <Route
                        path=path!("/break-glass/:id")
                        view=|| view! { <RequireAuth><pages::break_glass::BreakGlassDetailPage /></RequireAuth> }
                    />
                    <Route
                        path=path!("/vault")
                        view=|| view! { <RequireAuth><pages::break_glass::VaultPage /></RequireAuth> }
                    />
                    <Route
                        path=path!("/audit")
                        view=|| {
                            view! {
                                <RequireAuth roles=AUDIT_READERS>
                                    <pages::audit::AuditPage />
                                </RequireAuth>
                            }
                        }
                    />
                    <Route
                        path=path!("/audit/timeline/:id")
                        view=|| {
                            view! {
                                <RequireAuth roles=AUDIT_READERS>
                                    <pages::audit::TimelinePage />
                                </RequireAuth>
                            }
                        }
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// The bar across the top of every page once signed in.
#[component]
fn TopBar() -> impl IntoView {
    let session = crate::session::use_session();
    let navigate = use_navigate();
    let signing_out = RwSignal::new(false);
    let sign_out = move |_| {
        if signing_out.get_untracked() {
            return;
        }
        signing_out.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            // Whatever the answer, this tab forgets the session; a failed call leaves at
            // worst a server session that expires on its own.
            let _ = api::logout().await;
            session
                .state
                .set(SessionState::SignedOut { by_choice: true });
            signing_out.set(false);
            navigate("/login", leptos_router::NavigateOptions::default());
        });
    };
    let name = move || {
        session
            .me()
            .map(|me| me.user.display_name)
            .unwrap_or_default()
    };
    let mfa = move || {
        session.me().map(|me| {
            if me.mfa.totp_enrolled || me.mfa.idp_mfa {
                view! { <Badge tone=Tone::Good text="MFA on" /> }
            } else {
                view! { <Badge tone=Tone::Warn text="MFA off" /> }
            }
        })
    };
    let directory = move || session.has_any_role(DIRECTORY_READERS);
    let administrator = move || session.has_any_role(IDP_MANAGERS);
    let policies = move || session.has_any_role(POLICY_READERS);
    let audit = move || session.has_any_role(AUDIT_READERS);
    let notifications = move || session.has_any_role(NOTIFICATION_ADMINS);
    view! {
        <header class="topbar">
            <a class="brand" href="/portal">"Gatehouse"</a>
            <nav aria-label="Main">
                <ul>
                    <li><A href="/portal">"Portal"</A></li>
                    <li><A href="/requests">"Requests"</A></li>
                    <li><A href="/approvals">"Approvals"</A></li>
                    <li><A href="/me">"My account"</A></li>
                    <Show when=directory>
                        <li><A href="/admin/users">"Users"</A></li>
                        <li><A href="/admin/groups">"Groups"</A></li>
                        <li><A href="/admin/accounts">"Accounts"</A></li>
                    </Show>
                    <Show when=administrator>
                        <li><A href="/admin/idps">"Identity providers"</A></li>
                    </Show>
                    <Show when=policies>
                        <li><A href="/admin/permission-sets">"Permission sets"</A></li>
                        <li><A href="/admin/simulator">"Simulator"</A></li>
                    </Show>
                    <li><A href="/break-glass">"Break-glass"</A></li>
                    <li><A href="/vault">"Root vault"</A></li>
                    <Show when=notifications>
                        <li><A href="/admin/notifications">"Notifications"</A></li>
                    </Show>
                    <Show when=audit>
                        <li><A href="/audit">"Audit"</A></li>
                    </Show>
                </ul>
            </nav>
            <div class="who">
                <span class="who-name" title="Signed in as">{name}</span>
                {mfa}
                <button type="button" class="secondary" on:click=sign_out disabled=move || signing_out.get()>
                    "Sign out"
                </button>
            </div>
        </header>
    }
}
