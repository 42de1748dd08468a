//! Sign-in with username and password, then the TOTP step when the account has an
//! authenticator; afterwards back to the `?next=` path (only paths on this site).
//! Above the form, one button per enabled identity provider; it starts the federated
//! sign-in with the same return path. A refused federated sign-in comes back here as
//! `?error=<reason code>` (from the server's refusal page) and is explained.

use gatehouse_shared::auth::LoginRequest;
use gatehouse_shared::spa::safe_next;
use gatehouse_shared::validate::{Faults, TotpCodeInput};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;

use crate::api::{self, Code, ErrorCode};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::field::TextField;
use crate::components::form::FormState;
use crate::components::set_page_title;
use crate::session::{use_session, SessionState};

#[component]
pub fn LoginPage() -> impl IntoView {
    set_page_title("Sign in");
    let session = use_session();
    let query = use_query_map();
    let go = crate::app::use_go();
    let next = Memo::new(move |_| query.with(|q| safe_next(q.get("next").as_deref())));

    // Signed in (now, or already when the page opened): go where the person was going.
    Effect::new(move |_| {
        if matches!(session.state.get(), SessionState::SignedIn(_)) {
            go(&next.get_untracked(), true);
        }
    });

    let idps = LocalResource::new(api::sign_in_idps);
    let refusal =
        Memo::new(move |_| query.with(|q| q.get("error").map(|code| refusal_message(&code))));

    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let totp = RwSignal::new(String::new());
    let totp_step = RwSignal::new(false);
    let totp_input = NodeRef::<leptos::html::Input>::new();
    let form = FormState::new();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut faults = Faults::new();
        if username.with_untracked(|u| u.trim().is_empty()) {
            faults.push("username", "Enter your username.");
        }
        if password.with_untracked(String::is_empty) {
            faults.push("password", "Enter your password.");
        }
        let code = if totp_step.get_untracked() {
            faults
                .check("totp", TotpCodeInput::parse(&totp.get_untracked()))
                .map(TotpCodeInput::into_inner)
        } else {
            None
        };
        if !form.check(faults) {
            return;
        }
        let request = LoginRequest {
            username: username.get_untracked().trim().to_string(),
            password: password.get_untracked(),
            totp: code,
        };
        spawn_local(async move {
            match api::login(&request).await {
                Ok(me) => {
                    form.succeed(None);
                    session.signed_in(me);
                }
                Err(e) => {
                    form.busy.set(false);
                    match e.code {
                        Code::Api(ErrorCode::TotpRequired) => {
                            totp_step.set(true);
                            form.notice.set(Some(
                                "Password accepted. Now enter the 6-digit code from your authenticator app."
                                    .into(),
                            ));
                            focus(totp_input);
                        }
                        Code::Api(ErrorCode::InvalidTotp) => {
                            // The server says which: a wrong code, or one already used.
                            totp.set(String::new());
                            form.set_field_error("totp", e.message);
                            form.error
                                .set(Some("The authentication code was not accepted.".into()));
                            focus(totp_input);
                        }
                        Code::Api(ErrorCode::InvalidCredentials) => {
                            totp_step.set(false);
                            totp.set(String::new());
                            form.error
                                .set(Some("The username or password is not right.".into()));
                        }
                        Code::Api(ErrorCode::AccountDisabled) => {
                            form.error.set(Some(
                                "This account is disabled. Ask an administrator to enable it."
                                    .into(),
                            ));
                        }
                        // The server's sentence says how long to wait.
                        Code::Api(ErrorCode::RateLimited) => form.error.set(Some(e.message)),
                        _ => form.fail(e),
                    }
                }
            }
        });
    };

    view! {
        <section class="page signin">
            <h1>"Sign in to Gatehouse"</h1>
            <ErrorAlert error=Signal::derive(move || refusal.get()) />
            <ErrorAlert error=form.error />
            <Notice message=form.notice />
            <Transition fallback=|| ()>
                {move || idps.get().map(|r| match r {
                    Ok(list) if list.is_empty() => ().into_any(),
                    Ok(list) => view! {
                        <div class="idp-buttons" aria-label="Sign in with your organisation">
                            {list.into_iter().map(|idp| {
                                let href = move || format!(
                                    "{}?return_to={}",
                                    idp.login_url,
                                    js_sys::encode_uri_component(&next.get()),
                                );
                                // `rel="external"`: a server route, not one of the SPA's, so the
                                // router must let the browser load it.
                                view! {
                                    <a class="button idp-button" href=href rel="external">
                                        {format!("Sign in with {}", idp.name)}
                                    </a>
                                }
                            }).collect_view()}
                        </div>
                        <p class="divider"><span>"or with your Gatehouse password"</span></p>
                    }.into_any(),
                    // The local form still works; say quietly why the buttons are missing.
                    Err(_) => view! {
                        <p class="muted">"Sign-in with your organisation's identity provider could not be offered right now."</p>
                    }.into_any(),
                })}
            </Transition>
            <form on:submit=submit novalidate>
                <TextField
                    id="username"
                    label="Username"
                    value=username
                    autocomplete="username"
                    error=form.field_error("username")
                    required=true
                />
                <TextField
                    id="password"
                    label="Password"
                    kind="password"
                    value=password
                    autocomplete="current-password"
                    error=form.field_error("password")
                    required=true
                />
                <Show when=move || totp_step.get()>
                    <TextField
                        id="totp"
                        label="Authentication code"
                        value=totp
                        hint="The 6-digit code your authenticator app shows now."
                        autocomplete="one-time-code"
                        inputmode="numeric"
                        maxlength=7
                        error=form.field_error("totp")
                        node_ref=totp_input
                        required=true
                    />
                </Show>
                <button type="submit" disabled=move || form.busy.get()>
                    {move || if form.busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </section>
    }
}

/// What a person reads when the server's refusal page sent them back with `?error=<code>`
/// (the reason codes of `backend/src/federation/errors.rs`). The code itself is shown too,
/// so an administrator can find the audit record.
fn refusal_message(code: &str) -> String {
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    let sentence = match code.as_str() {
        "idp_unknown" => "That sign-in option does not exist.",
        "idp_disabled" => "That sign-in option is switched off. Ask an administrator.",
        "binding_missing" | "oidc_state" | "saml_in_response_to" | "saml_replay" => {
            "That sign-in was not started in this browser, took too long, or was already used. Start again."
        }
        "idp_error" => "Your identity provider did not sign you in.",
        "oidc_discovery" => {
            "Gatehouse could not reach your identity provider. Try again later or tell an administrator."
        }
        "no_subject" | "no_email" => {
            "Your identity provider did not say who you are (a required attribute is missing). Tell an administrator."
        }
        "no_account" => {
            "You have no Gatehouse account for this identity provider. Ask an administrator for access."
        }
        "email_ambiguous" => {
            "More than one Gatehouse account has your e-mail address, so none was chosen. Tell an administrator."
        }
        "jit_username_taken" | "jit_username_invalid" => {
            "A Gatehouse account could not be created for you automatically. Tell an administrator."
        }
        "account_disabled" => "Your Gatehouse account is disabled. Ask an administrator.",
        "busy" => "Gatehouse was busy with other sign-ins. Sign in again in a moment.",
        "internal" => "Something went wrong on our side. It has been logged; try again.",
        _ => "Your identity provider's answer could not be trusted, so you were not signed in.",
    };
    if code.is_empty() {
        format!("You were not signed in. {sentence}")
    } else {
        format!("You were not signed in. {sentence} (Reason code: {code}.)")
    }
}

/// Moves keyboard focus to `input` once it is in the page.
fn focus(input: NodeRef<leptos::html::Input>) {
    request_animation_frame(move || {
        if let Some(el) = input.get_untracked() {
            let _ = el.focus();
        }
    });
}
