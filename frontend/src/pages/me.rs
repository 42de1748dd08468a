//! My account: who I am (groups, roles, MFA state, session expiry), TOTP enrolment
//! (scan a QR code or type the secret, then confirm with a code), and changing my password.

use gatehouse_shared::auth::{ChangePassword, Me, TotpCode, TotpEnrollRequest, TotpEnrollment};
use gatehouse_shared::text::auth_method_text;
use gatehouse_shared::validate::{Faults, Password, TotpCodeInput};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ErrorCode};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, Tone};
use crate::components::field::TextField;
use crate::components::form::FormState;
use crate::components::set_page_title;
use crate::components::time::Timestamp;
use crate::session::use_session;

#[component]
pub fn MePage() -> impl IntoView {
    set_page_title("My account");
    let session = use_session();
    let me = Memo::new(move |_| session.me());
    // Changes only when the answer does, so the password form keeps what is typed in it.
    let password_set = Memo::new(move |_| session.me().is_none_or(|me| me.password_set));
    view! {
        <section class="page">
            <h1>"My account"</h1>
            {move || me.get().map(|me| view! { <Identity me /> })}
            <Totp />
            {move || {
                if password_set.get() {
                    view! { <PasswordChange /> }.into_any()
                } else {
                    view! { <NoPassword /> }.into_any()
                }
            }}
        </section>
    }
}

/// For someone who signs in only through an identity provider: there is no password here.
#[component]
fn NoPassword() -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <p>
                "You sign in through your identity provider, so Gatehouse keeps no password "
                "for you. To change your password, change it there."
            </p>
        </section>
    }
}

#[component]
fn Identity(me: Me) -> impl IntoView {
    let groups = if me.groups.is_empty() {
        "None".to_string()
    } else {
        me.groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let roles = if me.roles.is_empty() {
        view! { <span>"None"</span> }.into_any()
    } else {
        me.roles
            .iter()
            .map(|r| view! { <Badge tone=Tone::Neutral text=r.as_str() /> })
            .collect_view()
            .into_any()
    };
    let mfa = if me.mfa.totp_enrolled {
        view! { <Badge tone=Tone::Good text="Authenticator set up" /> }.into_any()
    } else if me.mfa.idp_mfa {
        view! { <Badge tone=Tone::Good text="MFA by identity provider" /> }.into_any()
    } else {
        view! { <Badge tone=Tone::Warn text="No MFA" /> }.into_any()
    };
    let last_mfa = me.mfa.last_mfa_at.map_or_else(
        || view! { <span>"Not in this session"</span> }.into_any(),
        |at| {
            let fresh = if me.mfa.fresh { " (recent)" } else { "" };
            view! { <span><Timestamp at />{fresh}</span> }.into_any()
        },
    );
    view! {
        <section class="card" aria-labelledby="who-heading">
            <h2 id="who-heading">"Who you are"</h2>
            <dl class="facts">
                <dt>"Name"</dt>
                <dd>{me.user.display_name}</dd>
                <dt>"Username"</dt>
                <dd>{me.user.username}</dd>
                <dt>"E-mail"</dt>
                <dd>{me.email}</dd>
                <dt>"Groups"</dt>
                <dd>{groups}</dd>
                <dt>"Roles"</dt>
                <dd class="badges">{roles}</dd>
                <dt>"MFA"</dt>
                <dd>{mfa}</dd>
                <dt>"Last MFA check"</dt>
                <dd>{last_mfa}</dd>
                <dt>"Signed in with"</dt>
                <dd>{auth_method_text(&me.auth_method)}</dd>
                <dt>"Session expires"</dt>
                <dd><Timestamp at=me.session_expires_at /></dd>
            </dl>
        </section>
    }
}

/// Starting, showing and confirming a TOTP enrolment.
#[component]
fn Totp() -> impl IntoView {
    let session = use_session();
    let enrolled = Memo::new(move |_| session.me().is_some_and(|me| me.mfa.totp_enrolled));
    let has_password = Memo::new(move |_| session.me().is_none_or(|me| me.password_set));
    let pending = RwSignal::new(None::<TotpEnrollment>);
    let current_code = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let start_form = FormState::new();
    let confirm_form = FormState::new();
    let done = RwSignal::new(None::<String>);

    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !start_form.start() {
            return;
        }
        done.set(None);
        let mut faults = Faults::new();
        let current = if enrolled.get_untracked() {
            faults
                .check(
                    "current_code",
                    TotpCodeInput::parse(&current_code.get_untracked()),
                )
                .map(TotpCodeInput::into_inner)
        } else {
            None
        };
        if !start_form.check(faults) {
            return;
        }
        let request = TotpEnrollRequest {
            current_code: current,
        };
        spawn_local(async move {
            match api::totp_enroll(&request).await {
                Ok(enrollment) => {
                    start_form.succeed(None);
                    current_code.set(String::new());
                    code.set(String::new());
                    pending.set(Some(enrollment));
                }
                Err(e) if e.code == ErrorCode::InvalidTotp => {
                    start_form.busy.set(false);
                    start_form.set_field_error("current_code", e.message);
                }
                Err(e) => start_form.fail(e),
            }
        });
    };

    let confirm = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !confirm_form.start() {
            return;
        }
        let mut faults = Faults::new();
        let parsed = faults.check("code", TotpCodeInput::parse(&code.get_untracked()));
        let Some(parsed) = parsed.filter(|_| confirm_form.check(faults)) else {
            return;
        };
        let request = TotpCode {
            code: parsed.into_inner(),
        };
        spawn_local(async move {
            match api::totp_confirm(&request).await {
                Ok(me) => {
                    confirm_form.succeed(None);
                    pending.set(None);
                    code.set(String::new());
                    session.signed_in(me);
                    done.set(Some(
                        "Authenticator confirmed. Sign-in will ask for a code from it from now on."
                            .into(),
                    ));
                }
                Err(e) if e.code == ErrorCode::InvalidTotp => {
                    confirm_form.busy.set(false);
                    code.set(String::new());
                    confirm_form.set_field_error("code", e.message);
                }
                Err(e) => confirm_form.fail(e),
            }
        });
    };

    view! {
        <section class="card" aria-labelledby="totp-heading">
            <h2 id="totp-heading">"Authenticator app (TOTP)"</h2>
            <Notice message=done />
            <Show
                when=move || pending.with(Option::is_none)
                fallback=move || {
                    pending
                        .get()
                        .map(|enrollment| {
                            view! {
                                <Enrolment enrollment code form=confirm_form on_submit=confirm on_cancel=move || pending.set(None) />
                            }
                        })
                }
            >
                <p>
                    {move || {
                        if enrolled.get() {
                            "An authenticator is set up for your account. To move to a new device, enter a current code from the old one."
                        } else if has_password.get() {
                            "No authenticator is set up. Set one up so that sign-in asks for a code as well as your password."
                        } else {
                            "No authenticator is set up. Set one up to confirm approvals, break-glass and other sensitive actions with a code."
                        }
                    }}
                </p>
                <ErrorAlert error=start_form.error />
                <form on:submit=start novalidate class="inline-form">
                    <Show when=move || enrolled.get()>
                        <TextField
                            id="current-code"
                            label="Current code"
                            value=current_code
                            autocomplete="one-time-code"
                            inputmode="numeric"
                            maxlength=7
                            error=start_form.field_error("current_code")
                        />
                    </Show>
                    <button type="submit" disabled=move || start_form.busy.get()>
                        {move || if enrolled.get() { "Replace authenticator" } else { "Set up authenticator" }}
                    </button>
                </form>
            </Show>
        </section>
    }
}

/// The pending secret: QR code, the secret as text, and the confirmation form.
#[component]
fn Enrolment(
    enrollment: TotpEnrollment,
    code: RwSignal<String>,
    form: FormState,
    on_submit: impl Fn(leptos::ev::SubmitEvent) + 'static,
    on_cancel: impl Fn() + 'static,
) -> impl IntoView {
    view! {
        <ol class="steps">
            <li>"Scan this QR code with your authenticator app, or type the secret key into it."</li>
            <li>"Enter the 6-digit code the app shows, then confirm."</li>
        </ol>
        <div class="totp-setup">
            <div class="qr" role="img" aria-label="TOTP QR code" inner_html=enrollment.qr_svg></div>
            <div>
                <p class="label" id="totp-secret-label">"Secret key"</p>
                <p>
                    <code class="secret" id="totp-secret" aria-labelledby="totp-secret-label">
                        {enrollment.secret_base32}
                    </code>
                </p>
                <ErrorAlert error=form.error />
                <form on:submit=on_submit novalidate>
                    <TextField
                        id="totp-code"
                        label="Authentication code"
                        value=code
                        autocomplete="one-time-code"
                        inputmode="numeric"
                        maxlength=7
                        error=form.field_error("code")
                    />
                    <div class="actions">
                        <button type="submit" disabled=move || form.busy.get()>"Confirm"</button>
                        <button type="button" class="secondary" on:click=move |_| on_cancel()>"Cancel"</button>
                    </div>
                </form>
            </div>
        </div>
    }
}

/// Change my own password: the current one, the new one twice. Other sessions end.
#[component]
fn PasswordChange() -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let form = FormState::new();
    let done = RwSignal::new(None::<String>);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        done.set(None);
        let mut faults = Faults::new();
        if current.get_untracked().is_empty() {
            faults.push("current_password", "Enter your current password.");
        }
        let parsed = faults.check("new_password", Password::parse(&new.get_untracked()));
        if parsed.is_some() && new.get_untracked() != repeat.get_untracked() {
            faults.push("repeat_password", "The two new passwords differ.");
        }
        if !form.check(faults) {
            return;
        }
        let request = ChangePassword {
            current_password: current.get_untracked(),
            new_password: new.get_untracked(),
        };
        spawn_local(async move {
            match api::change_password(&request).await {
                Ok(()) => {
                    form.succeed(None);
                    current.set(String::new());
                    new.set(String::new());
                    repeat.set(String::new());
                    done.set(Some(
                        "Password changed. Your other sessions have been signed out.".into(),
                    ));
                }
                Err(e) => form.fail(e),
            }
        });
    };

    view! {
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <Notice message=done />
            <ErrorAlert error=form.error />
            <form on:submit=submit novalidate>
                <TextField
                    id="current-password"
                    label="Current password"
                    value=current
                    kind="password"
                    autocomplete="current-password"
                    error=form.field_error("current_password")
                />
                <TextField
                    id="new-password"
                    label="New password"
                    value=new
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 12 characters."
                    error=form.field_error("new_password")
                />
                <TextField
                    id="repeat-password"
                    label="New password again"
                    value=repeat
                    kind="password"
                    autocomplete="new-password"
                    error=form.field_error("repeat_password")
                />
                <button type="submit" disabled=move || form.busy.get()>
                    "Change password"
                </button>
            </form>
        </section>
    }
}
