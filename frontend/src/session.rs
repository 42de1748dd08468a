//! Who is signed in, shared with every page through context; the gate that sends people
//! without a session to sign-in (remembering where they were) and hides what their roles
//! do not allow.

use gatehouse_shared::auth::{Me, Role};
use gatehouse_shared::spa::with_query;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_location;

use crate::api::{self, ApiError};
use crate::components::alert::ErrorAlert;

/// What the SPA knows about the session.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionState {
    /// `GET /api/v1/me` has not answered yet.
    Loading,
    /// No session. `by_choice` is true after "Sign out", so sign-in starts afresh
    /// instead of returning to the page the person left.
    SignedOut {
        by_choice: bool,
    },
    SignedIn(Box<Me>),
    /// The server could not be asked (network, 5xx).
    Unreachable(ApiError),
}

/// The session, provided once by the app and read by every page.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    pub state: RwSignal<SessionState>,
}

impl Session {
    /// Creates the session context, asks the server who is signed in, and registers the
    /// hook that ends the session whenever any API call answers `unauthenticated`.
    pub fn provide() -> Self {
        let session = Self {
            state: RwSignal::new(SessionState::Loading),
        };
        provide_context(session);
        api::on_unauthenticated(move || {
            let ended_by_choice = matches!(
                session.state.get_untracked(),
                SessionState::SignedOut { by_choice: true }
            );
            if !ended_by_choice {
                session
                    .state
                    .set(SessionState::SignedOut { by_choice: false });
            }
        });
        session.reload();
        session
    }

    /// Asks `GET /api/v1/me` again.
    pub fn reload(self) {
        spawn_local(async move {
            match api::me().await {
                Ok(me) => self.signed_in(me),
                Err(e) if e.status == 401 => {
                    self.state.set(SessionState::SignedOut { by_choice: false });
                }
                Err(e) => self.state.set(SessionState::Unreachable(e)),
            }
        });
    }

    /// Records a fresh `Me` (after sign-in, TOTP confirmation, ...).
    pub fn signed_in(self, me: Me) {
        api::remember(&me);
        self.state.set(SessionState::SignedIn(Box::new(me)));
    }

    /// The signed-in person (tracked), if any.
    pub fn me(self) -> Option<Me> {
        self.state.with(|s| match s {
            SessionState::SignedIn(me) => Some((**me).clone()),
            _ => None,
        })
    }

    /// Whether the signed-in person holds `role` (tracked).
    pub fn has_role(self, role: Role) -> bool {
        self.state.with(|s| match s {
            SessionState::SignedIn(me) => me.roles.contains(&role),
            _ => false,
        })
    }

    /// Whether the signed-in person holds any of `roles` (tracked); true for an empty list.
    pub fn has_any_role(self, roles: &[Role]) -> bool {
        roles.is_empty() || roles.iter().any(|r| self.has_role(*r))
    }
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// The sign-in page's address that returns to `next` afterwards.
pub fn login_href(next: &str) -> String {
    if next == "/" || next.is_empty() {
        "/login?next=%2F".to_string()
    } else {
        format!("/login?next={}", js_sys::encode_uri_component(next))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Gate {
    Loading,
    Out,
    Allowed,
    Forbidden,
    Unreachable(ApiError),
}

/// Shows `children` only to a signed-in person holding one of `roles` (any person when
/// `roles` is empty). Without a session it goes to sign-in with `?next=` set to here.
/// The children are built once per gate change, so refreshing `Me` keeps page state.
#[component]
pub fn RequireAuth(
    #[prop(optional)] roles: &'static [Role],
    children: ChildrenFn,
) -> impl IntoView {
    let session = use_session();
    let location = use_location();
    let go = crate::app::use_go();
    let gate = Memo::new(move |_| match session.state.get() {
        SessionState::Loading => Gate::Loading,
        SessionState::SignedOut { .. } => Gate::Out,
        SessionState::Unreachable(e) => Gate::Unreachable(e),
        SessionState::SignedIn(_) if session.has_any_role(roles) => Gate::Allowed,
        SessionState::SignedIn(_) => Gate::Forbidden,
    });
    Effect::new(move |_| {
        if let SessionState::SignedOut { by_choice } = session.state.get() {
            let target = if by_choice {
                "/login".to_string()
            } else {
                let here = with_query(
                    &location.pathname.get_untracked(),
                    &location.search.get_untracked(),
                );
                login_href(&here)
            };
            go(&target, true);
        }
    });
    move || match gate.get() {
        Gate::Loading => view! { <p class="muted" role="status">"Loading…"</p> }.into_any(),
        Gate::Out => {
            view! { <p class="muted" role="status">"Taking you to sign-in…"</p> }.into_any()
        }
        Gate::Unreachable(e) => view! {
            <ErrorAlert error=Signal::stored(Some(e.message)) />
            <button type="button" on:click=move |_| session.reload()>"Try again"</button>
        }
        .into_any(),
        Gate::Forbidden => view! {
            <h1>"Not allowed"</h1>
            <p>"Your roles do not include this page. Ask an administrator if you need it."</p>
        }
        .into_any(),
        Gate::Allowed => children().into_any(),
    }
}
