//! The shell: top bar (product, who is signed in, MFA state, sign-out), the navigation a
//! person's roles allow, and the routers of the three bundles ([`PortalApp`],
//! [`DirectoryApp`], [`GovernanceApp`]; see `gatehouse_shared::spa`) that map every path to
//! its page.

use std::cell::Cell;

use gatehouse_shared::auth::Role;
use gatehouse_shared::spa::Bundle;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Redirect, Route, Router, Routes, A};
use leptos_router::hooks::use_navigate;
use leptos_router::{path, NavigateOptions};

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
/// Who may fetch an account's setup kit (the API allows administrators only).
pub const ACCOUNT_ADMINS: &[Role] = &[Role::Administrator];
/// Who may manage identity providers (the API allows administrators only).
pub const IDP_MANAGERS: &[Role] = &[Role::Administrator];

thread_local! {
    static CURRENT: Cell<Bundle> = const { Cell::new(Bundle::Everyday) };
}

fn current_bundle() -> Bundle {
    CURRENT.with(Cell::get)
}

/// Navigation that crosses bundles when it must: inside this bundle through the router,
/// to the other one by loading the page.
pub fn use_go() -> impl Fn(&str, bool) + Clone + 'static {
    let navigate = use_navigate();
    move |path: &str, replace: bool| {
        if Bundle::of(path) == current_bundle() {
            navigate(
                path,
                NavigateOptions {
                    replace,
                    ..NavigateOptions::default()
                },
            );
        } else if let Some(location) = web_sys::window().map(|w| w.location()) {
            let _ = if replace {
                location.replace(path)
            } else {
                location.assign(path)
            };
        }
    }
}

/// The skip link and, once signed in, the top bar; then the page.
#[component]
fn Frame(bundle: Bundle, children: Children) -> impl IntoView {
    CURRENT.with(|c| c.set(bundle));
    let session = Session::provide();
    let signed_in = move || matches!(session.state.get(), SessionState::SignedIn(_));
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <Show when=signed_in>
            <TopBar />
        </Show>
        <main id="main" tabindex="-1">
            {children()}
        </main>
    }
}

/// The everyday bundle: sign-in, portal, requests, approvals, break-glass, vault, my account.
#[component]
pub fn PortalApp() -> impl IntoView {
    view! {
        <Router>
            <Frame bundle=Bundle::Everyday>
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
                        view=|| view! { <RequireAuth><pages::approvals::ApprovalsPage /></RequireAuth> }
                    />
                    <Route
                        path=path!("/me")
                        view=|| view! { <RequireAuth><pages::me::MePage /></RequireAuth> }
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
                </Routes>
            </Frame>
        </Router>
    }
}

/// The directory bundle: users, groups, accounts, permission sets, the simulator.
#[component]
pub fn DirectoryApp() -> impl IntoView {
    view! {
        <Router>
            <Frame bundle=Bundle::Directory>
                <Routes fallback=pages::not_found::NotFound>
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
                        path=path!("/admin/accounts/:id/setup")
                        view=|| {
                            view! {
                                <RequireAuth roles=ACCOUNT_ADMINS>
                                    <pages::admin::accounts::SetupKitPage />
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
                        path=path!("/admin/simulator")
                        view=|| {
                            view! {
                                <RequireAuth roles=POLICY_READERS>
                                    <pages::admin::simulator::SimulatorPage />
                                </RequireAuth>
                            }
                        }
                    />
                </Routes>
            </Frame>
        </Router>
    }
}

/// The governance bundle: access policies, identity providers, notifications, the audit trail.
#[component]
pub fn GovernanceApp() -> impl IntoView {
    view! {
        <Router>
            <Frame bundle=Bundle::Governance>
                <Routes fallback=pages::not_found::NotFound>
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
                        path=path!("/admin/access-policies")
                        view=|| {
                            view! {
                                <RequireAuth roles=POLICY_READERS>
                                    <pages::admin::access_policies::AccessPoliciesPage />
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
            </Frame>
        </Router>
    }
}

/// A link of the navigation: through the router inside this bundle (which marks the current
/// page with `aria-current`), a plain page load into the other one.
#[component]
fn NavLink(
    href: &'static str,
    label: &'static str,
    #[prop(optional)] class: Option<&'static str>,
    /// A count shown beside the label when above zero (what waits there).
    #[prop(optional, into)]
    count: Option<Signal<usize>>,
) -> impl IntoView {
    let badge = move || {
        count.map(|c| c.get()).filter(|n| *n > 0).map(|n| {
            view! { <span class="nav-count" aria-label=format!("{n} waiting")>{n}</span> }
        })
    };
    if Bundle::of(href) == current_bundle() {
        view! { <A href=href attr:class=class>{label}{badge}</A> }.into_any()
    } else {
        view! { <a href=href class=class rel="external">{label}{badge}</a> }.into_any()
    }
}

/// The bar across the top of every page once signed in.
#[component]
fn TopBar() -> impl IntoView {
    let session = crate::session::use_session();
    let go = use_go();
    let signing_out = RwSignal::new(false);
    let sign_out = move |_| {
        if signing_out.get_untracked() {
            return;
        }
        signing_out.set(true);
        let go = go.clone();
        spawn_local(async move {
            // Whatever the answer, this tab forgets the session; a failed call leaves at
            // worst a server session that expires on its own.
            let _ = api::logout().await;
            session
                .state
                .set(SessionState::SignedOut { by_choice: true });
            signing_out.set(false);
            go("/login", false);
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
    // Every decision waiting for this person, counted again on each navigation.
    let location = leptos_router::hooks::use_location();
    let inbox = LocalResource::new(move || {
        location.pathname.track();
        api::waiting_count()
    });
    let waiting = Signal::derive(move || inbox.get().and_then(Result::ok).map_or(0, |c| c.waiting));
    view! {
        <header class="topbar">
            <NavLink href="/portal" label="Gatehouse" class="brand" />
            <nav aria-label="Main">
                <ul>
                    <li><NavLink href="/portal" label="Portal" /></li>
                    <li><NavLink href="/requests" label="Requests" /></li>
                    <li><NavLink href="/approvals" label="Approvals" count=waiting /></li>
                    <li><NavLink href="/me" label="My account" /></li>
                    <Show when=directory>
                        <li><NavLink href="/admin/users" label="Users" /></li>
                        <li><NavLink href="/admin/groups" label="Groups" /></li>
                        <li><NavLink href="/admin/accounts" label="Accounts" /></li>
                    </Show>
                    <Show when=administrator>
                        <li><NavLink href="/admin/idps" label="Identity providers" /></li>
                    </Show>
                    <Show when=policies>
                        <li><NavLink href="/admin/permission-sets" label="Permission sets" /></li>
                        <li><NavLink href="/admin/simulator" label="Simulator" /></li>
                        <li><NavLink href="/admin/access-policies" label="Access policies" /></li>
                    </Show>
                    <li><NavLink href="/break-glass" label="Break-glass" /></li>
                    <li><NavLink href="/vault" label="Root vault" /></li>
                    <Show when=notifications>
                        <li><NavLink href="/admin/notifications" label="Notifications" /></li>
                    </Show>
                    <Show when=audit>
                        <li><NavLink href="/audit" label="Audit" /></li>
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
