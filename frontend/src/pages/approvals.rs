//! The approvals inbox: each request waiting for the signed-in person's decision, with what
//! they weigh before deciding (who asks and when, the account's environment, what the
//! permission set grants, whether its role could be used at once), a TOTP prompt when the
//! policy demands a fresh MFA check, and a rejection that says why and is asked once more.

use gatehouse_shared::auth::TotpCode;
use gatehouse_shared::breakglass::BreakGlassRequest;
use gatehouse_shared::requests::{AccessRequest, DecisionInput, RequestContext, Waiting};
use gatehouse_shared::text::duration_text;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use crate::api::{self, ErrorCode};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, Tone};
use crate::components::form::FormState;
use crate::components::loaded::{Empty, Loaded};
use crate::components::set_page_title;
use crate::components::time::Timestamp;

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    set_page_title("Approvals");
    let inbox = LocalResource::new(api::waiting);
    let page = FormState::new();
    let reload = move || inbox.refetch();
    view! {
        <section class="page">
            <h1>"Approvals"</h1>
            <ErrorAlert error=page.error />
            <Notice message=page.notice />
            <Loaded data=move || inbox.get() loading="Loading what waits for your decision…" let:waiting
                empty=Empty::when(
                    |w: &Waiting| w.access_requests.is_empty() && w.break_glass.is_empty(),
                    || view! { <p>"Nothing is waiting for your approval."</p> },
                )>
                {waiting
                    .access_requests
                    .into_iter()
                    .map(|r| view! { <ApprovalCard request=r page reload /> })
                    .collect_view()}
                {(!waiting.break_glass.is_empty()).then(|| view! {
                    <h2>"Root access waiting for you"</h2>
                    <p class="lead">"As a root custodian, open each to approve or reject with your authenticator code."</p>
                })}
                {waiting
                    .break_glass
                    .into_iter()
                    .map(|r| view! { <BreakGlassCard request=r /> })
                    .collect_view()}
            </Loaded>
        </section>
    }
}

/// A break-glass request a custodian can decide, decided on its own page.
#[component]
fn BreakGlassCard(request: BreakGlassRequest) -> impl IntoView {
    let heading_id = format!("break-glass-{}", request.id);
    let labelled_by = heading_id.clone();
    let href = format!("/break-glass/{}", request.id);
    view! {
        <section class="card" aria-labelledby=labelled_by>
            <h2 id=heading_id>{format!("{} asks for the root credential of {}", request.requester_name, request.account_name)}</h2>
            <dl class="facts">
                <dt>"Asked"</dt><dd><Timestamp at=request.created_at /></dd>
                <dt>"Justification"</dt><dd>{request.justification.clone()}</dd>
                <dt>"Approvals"</dt>
                <dd>{format!(
                    "password custodians {} of {}, MFA custodians {} of {}",
                    request.password_approvals, request.password_approvals_needed,
                    request.mfa_approvals, request.mfa_approvals_needed
                )}</dd>
                <dt>"Waits until"</dt><dd><Timestamp at=request.expires_at /></dd>
            </dl>
            <div class="actions">
                <A href=href attr:class="button">"Open to decide"</A>
            </div>
        </section>
    }
}

#[component]
fn ApprovalCard(
    request: AccessRequest,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let comment = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let needs_mfa = RwSignal::new(false);
    let pending_verb = RwSignal::new("approve");
    let form = FormState::new();
    let id = StoredValue::new(request.id.clone());
    let send = move |verb: &'static str| {
        if !form.start() {
            return;
        }
        pending_verb.set(verb);
        let input = DecisionInput {
            comment: comment.get_untracked(),
        };
        spawn_local(async move {
            match api::request_action(&id.get_value(), verb, &input).await {
                Ok(r) => {
                    form.succeed(None);
                    page.notice.set(Some(format!(
                        "{} the request of {} ({}).",
                        if verb == "approve" {
                            "Approved"
                        } else {
                            "Rejected"
                        },
                        r.requester.name,
                        r.state.label()
                    )));
                    reload();
                }
                Err(e) if e.code == ErrorCode::MfaRequired => {
                    form.busy.set(false);
                    needs_mfa.set(true);
                    form.error.set(Some(e.message));
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let verify = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let totp = TotpCode {
            code: code.get_untracked().trim().to_string(),
        };
        spawn_local(async move {
            match api::step_up(&totp).await {
                Ok(_) => {
                    form.succeed(None);
                    needs_mfa.set(false);
                    code.set(String::new());
                    send(pending_verb.get_untracked());
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let context = request.context.clone();
    let who = match context.as_ref().map(|c| c.requester_display_name.as_str()) {
        Some(name) if !name.is_empty() => format!("{name} ({})", request.requester.name),
        _ => request.requester.name.clone(),
    };
    let heading = format!(
        "{who} asks for {} on {}",
        request.permission_set_name, request.account_name
    );
    let confirming_reject = RwSignal::new(false);
    let heading_id = format!("approval-{}", request.id);
    let labelled_by = heading_id.clone();
    let comment_id = format!("approval-comment-{}", request.id);
    let totp_id = format!("approval-totp-{}", request.id);
    view! {
        <section class="card" aria-labelledby=labelled_by>
            <h2 id=heading_id>{heading}</h2>
            {context.clone().map(|c| view! { <Where context=c /> })}
            <dl class="facts">
                <dt>"Asked"</dt><dd><Timestamp at=request.created_at /></dd>
                <dt>"Duration"</dt><dd>{duration_text(request.duration_secs)}</dd>
                <dt>"Justification"</dt><dd>{request.justification.clone()}</dd>
                <dt>"Ticket"</dt><dd>{request.ticket.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Approvals"</dt><dd>{format!("{} of {}", request.approvals_counted, request.approvals_needed)}</dd>
                <dt>"Waits until"</dt><dd><Timestamp at=request.pending_expires_at /></dd>
                <dt>"Policy"</dt>
                <dd>
                    {if request.mfa_required { "MFA required to decide" } else { "No MFA check" }}
                    {format!(" · ends after {} rejection(s)", request.rejections_to_end)}
                </dd>
            </dl>
            <ErrorAlert error=form.error />
            <div class="field">
                <label for=comment_id.clone()>"Comment"</label>
                <input
                    id=comment_id
                    type="text"
                    prop:value=move || comment.get()
                    on:input=move |ev| comment.set(event_target_value(&ev))
                />
            </div>
            <Show when=move || needs_mfa.get()>
                <form on:submit=verify class="inline-form">
                    <div class="field">
                        <label for=totp_id.clone()>"Authenticator code"</label>
                        <input
                            id=totp_id.clone()
                            type="text"
                            inputmode="numeric"
                            autocomplete="one-time-code"
                            maxlength=6
                            prop:value=move || code.get()
                            on:input=move |ev| code.set(event_target_value(&ev))
                        />
                    </div>
                    <button type="submit" disabled=move || form.busy.get()>"Verify and continue"</button>
                </form>
            </Show>
            {request.can_approve.then(|| view! {
                <div class="actions">
                    {move || if confirming_reject.get() {
                        view! {
                            <span class="confirm">
                                "Reject this request? It ends here."
                                <button type="button" class="danger" disabled=move || form.busy.get() on:click=move |_| send("reject")>"Yes, reject"</button>
                                <button type="button" class="secondary" on:click=move |_| confirming_reject.set(false)>"Cancel"</button>
                            </span>
                        }
                        .into_any()
                    } else {
                        view! {
                            <button type="button" disabled=move || form.busy.get() on:click=move |_| send("approve")>"Approve"</button>
                            <button type="button" class="danger" disabled=move || form.busy.get() on:click=move |_| {
                                // A rejection says why: the requester reads the comment.
                                if comment.get_untracked().trim().is_empty() {
                                    form.error.set(Some("Say why you reject it in the comment: the requester reads it.".into()));
                                } else {
                                    form.error.set(None);
                                    confirming_reject.set(true);
                                }
                            }>"Reject"</button>
                        }
                        .into_any()
                    }}
                </div>
            })}
        </section>
    }
}

/// Where the access would be and what it grants; a warning when its role is not there yet.
#[component]
fn Where(context: RequestContext) -> impl IntoView {
    let production = context
        .account_environment
        .eq_ignore_ascii_case("production");
    let tone = if production { Tone::Bad } else { Tone::Neutral };
    let mut grants: Vec<String> = context.system_policies.clone();
    if context.has_inline_policy {
        grants.push("an inline policy".into());
    }
    let grants = if grants.is_empty() {
        "no policies".to_string()
    } else {
        grants.join(", ")
    };
    view! {
        <p class="request-where">
            {(!context.account_environment.is_empty()).then(|| view! { <Badge tone text=context.account_environment.clone() /> })}
            {(!context.permission_set_description.is_empty()).then(|| view! { " "{context.permission_set_description.clone()} })}
        </p>
        <p class="hint">"Grants: "{grants}</p>
        {(!context.role_usable).then(|| view! {
            <div class="alert alert-warn" role="note">
                "The role for this permission set is not provisioned in this account yet: if you approve, the grant cannot be used until an administrator provisions it."
            </div>
        })}
    }
}
