//! Just-in-time access: asking for a permission set one is eligible for (the limits shown
//! before sending, checked with the server's own rules), and one's requests with their
//! status, approvals and countdown (and the console of an active grant). The approvals
//! inbox is in [`super::approvals`].

use gatehouse_shared::permission_sets::ProvisioningStatus;
use gatehouse_shared::portal::Portal;
use gatehouse_shared::requests::{
    check_request, AccessRequest, CreateAccessRequest, DecisionInput, EligibleItem, RequestState,
};
use gatehouse_shared::text::{countdown_text, duration_text};
use leptos::prelude::*;
use leptos::task::spawn_local;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::api::{self, ApiError, ErrorCode};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, Tone};
use crate::components::console::ConsoleButton;
use crate::components::field::{SelectField, TextField};
use crate::components::form::FormState;
use crate::components::loaded::{Empty, Loaded};
use crate::components::set_page_title;
use crate::components::table::DataTable;
use crate::components::time::{epoch_ms, local_input_to_utc, ticking_now};

fn tone(state: RequestState) -> Tone {
    match state {
        RequestState::Active => Tone::Good,
        RequestState::Pending | RequestState::Approved => Tone::Warn,
        RequestState::Rejected | RequestState::Revoked => Tone::Bad,
        _ => Tone::Neutral,
    }
}

#[component]
pub fn RequestsPage() -> impl IntoView {
    set_page_title("Requests");
    let eligibility = LocalResource::new(api::eligibility);
    let mine = LocalResource::new(api::my_requests);
    // Where an active grant's console is (the portal knows each account's provider).
    let portal = LocalResource::new(api::portal);
    let page = FormState::new();
    view! {
        <section class="page">
            <h1>"Access requests"</h1>
            <ErrorAlert error=page.error />
            <Notice message=page.notice />
            <Loaded data=move || eligibility.get().map(|result| result.map(|e| e.items)) loading="Loading what you may ask for…" let:items
                empty=Empty::list(|| view! { <p>"You are not eligible to request elevated access. Ask an administrator for an eligibility policy."</p> })>
                <RequestForm items on_created=move |r: AccessRequest| {
                    let told = r.notified.as_ref().map(|n| format!(" {}", n.sentence())).unwrap_or_default();
                    page.notice.set(Some(format!("Asked for {} on {}.{told}", r.permission_set_name, r.account_name)));
                    mine.refetch();
                } />
            </Loaded>
            <h2>"My requests"</h2>
            <Loaded data=move || mine.get() loading="Loading your requests…" let:list
                empty=Empty::list(|| view! { <p>"You have not asked for anything yet."</p> })>
                <RequestTable requests=list page portal reload=move || { mine.refetch(); portal.refetch(); } />
            </Loaded>
        </section>
    }
}

#[component]
fn RequestForm(
    items: Vec<EligibleItem>,
    on_created: impl Fn(AccessRequest) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let items = StoredValue::new(items);
    let choice = RwSignal::new("0".to_string());
    let minutes = RwSignal::new("60".to_string());
    let justification = RwSignal::new(String::new());
    let ticket = RwSignal::new(String::new());
    let start = RwSignal::new(String::new());
    let form = FormState::new();
    let options = Signal::derive(move || {
        items.with_value(|list| {
            list.iter()
                .enumerate()
                .map(|(i, it)| {
                    (
                        i.to_string(),
                        format!(
                            "{} on {} ({})",
                            it.permission_set_name, it.account_name, it.account_id
                        ),
                    )
                })
                .collect::<Vec<_>>()
        })
    });
    let selected = move || {
        let i: usize = choice.get().parse().unwrap_or(0);
        items.with_value(|list| list.get(i).cloned())
    };
    let limits_text = move || {
        selected().map(|it| {
            let l = it.limits;
            let mut parts = vec![format!("At most {}", duration_text(l.max_duration_secs))];
            if l.approval_required {
                parts.push(format!("{} approval(s) needed", l.approvals_needed));
                if l.mfa_required {
                    parts.push("approvers confirm with MFA".into());
                }
            } else {
                parts.push("no approval needed".into());
            }
            if l.justification_required {
                parts.push("justification required".into());
            }
            if l.ticket_required {
                parts.push("ticket required".into());
            }
            parts.join(" · ")
        })
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(item) = selected() else { return };
        if !form.start() {
            return;
        }
        let start_at = local_input_to_utc(&start.get_untracked())
            .and_then(|s| OffsetDateTime::parse(&s, &Rfc3339).ok());
        let ticket_text = ticket.get_untracked();
        let request = CreateAccessRequest {
            account_id: item.account_id.clone(),
            permission_set_id: item.permission_set_id.clone(),
            duration_secs: minutes.get_untracked().trim().parse::<i64>().unwrap_or(0) * 60,
            justification: justification.get_untracked(),
            ticket: (!ticket_text.trim().is_empty()).then_some(ticket_text),
            start_at,
        };
        #[expect(
            clippy::cast_possible_truncation,
            reason = "a timestamp in ms fits in i64"
        )]
        let now_ms = js_sys::Date::now() as i64;
        let faults = check_request(&request, &item.limits, now_ms);
        if !faults.is_empty() {
            form.fail(ApiError {
                status: 0,
                code: ErrorCode::ValidationFailed.into(),
                message: "Check the fields marked below.".into(),
                fields: faults
                    .into_iter()
                    .map(|mut f| {
                        if f.field == "duration_secs" {
                            f.field = "minutes".into();
                        }
                        f
                    })
                    .collect(),
            });
            return;
        }
        spawn_local(async move {
            match api::create_request(&request).await {
                Ok(r) => {
                    form.succeed(None);
                    justification.set(String::new());
                    ticket.set(String::new());
                    start.set(String::new());
                    on_created(r);
                }
                Err(mut e) => {
                    for f in &mut e.fields {
                        if f.field == "duration_secs" {
                            f.field = "minutes".into();
                        }
                    }
                    form.fail(e);
                }
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="ask-heading">
            <h2 id="ask-heading">"Ask for access"</h2>
            <ErrorAlert error=form.error />
            <form on:submit=submit novalidate class="grid-form">
                <SelectField id="request-item" label="Permission set and account" value=choice options />
                <p class="hint" role="note" aria-label="Limits">{limits_text}</p>
                <TextField id="request-minutes" label="Duration (minutes)" value=minutes inputmode="numeric" error=form.field_error("minutes") required=true />
                <TextField id="request-justification" label="Justification" value=justification error=form.field_error("justification") />
                <TextField id="request-ticket" label="Ticket" value=ticket autocomplete="off" error=form.field_error("ticket") />
                <TextField id="request-start" label="Start at (optional)" kind="datetime-local" value=start hint="Leave empty to start as soon as it is approved." error=form.field_error("start_at") />
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>"Send request"</button>
                </div>
            </form>
        </section>
    }
}

#[component]
fn RequestTable(
    requests: Vec<AccessRequest>,
    page: FormState,
    portal: LocalResource<Result<Portal, ApiError>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let now = ticking_now();
    view! {
        <DataTable caption="My requests" headers=&["Permission set", "Account", "Status", "Approvals", "Time left", "Actions"]>
            {requests
                .into_iter()
                .map(|r| {
                    let id = r.id.clone();
                    let ends = r.ends_at.map(epoch_ms);
                    let active = r.state == RequestState::Active;
                    let act = move |verb: &'static str, id: String| {
                        move |_| {
                            if !page.start() {
                                return;
                            }
                            let id = id.clone();
                            spawn_local(async move {
                                match api::request_action(&id, verb, &DecisionInput::default()).await {
                                    Ok(_) => {
                                        page.succeed(Some(if verb == "end" { "Ended the grant.".into() } else { "Cancelled the request.".into() }));
                                        reload();
                                    }
                                    Err(e) => page.fail(e),
                                }
                            });
                        }
                    };
                    view! {
                        <tr>
                            <th scope="row">{r.permission_set_name.clone()}</th>
                            <td>{r.account_name.clone()}</td>
                            <td><Badge tone=tone(r.state) text=r.state.label() /></td>
                            <td>{if r.approval_required { format!("{} of {}", r.approvals_counted, r.approvals_needed) } else { "not needed".into() }}</td>
                            <td>
                                {move || match (active, ends) {
                                    (true, Some(e)) => view! { <span class="countdown" role="timer">{countdown_text(e - now.get())}</span> }.into_any(),
                                    _ => view! { <span class="muted">"—"</span> }.into_any(),
                                }}
                            </td>
                            <td class="row-actions">
                                {r.can_cancel.then(|| view! {
                                    <button type="button" class="secondary small" on:click=act("cancel", id.clone())>"Cancel"</button>
                                })}
                                {active.then(|| view! { <GrantConsole request=r.clone() portal /> })}
                                {r.can_end.then(|| {
                                    // Asked once more: the grant's credentials stop working at once.
                                    let confirming = RwSignal::new(false);
                                    let end = act("end", id.clone());
                                    move || if confirming.get() {
                                        view! {
                                            <span class="confirm">
                                                "End the grant now? Its credentials stop working."
                                                <button type="button" class="danger small" on:click=end.clone()>"Yes, end now"</button>
                                                <button type="button" class="secondary small" on:click=move |_| confirming.set(false)>"Keep it"</button>
                                            </span>
                                        }
                                        .into_any()
                                    } else {
                                        view! {
                                            <button type="button" class="danger small" on:click=move |_| confirming.set(true)>"End now"</button>
                                        }
                                        .into_any()
                                    }
                                })}
                            </td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
    }
}

/// The console of an active grant, as the portal opens it; nothing until the portal has
/// loaded, or when it does not list the grant's role.
#[component]
fn GrantConsole(
    request: AccessRequest,
    portal: LocalResource<Result<Portal, ApiError>>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let label = format!(
        "Open the console as {} in {} (new tab)",
        request.permission_set_name, request.account_name
    );
    let (account_id, permission_set_id) = (request.account_id, request.permission_set_id);
    let target = {
        let (account_id, permission_set_id) = (account_id.clone(), permission_set_id.clone());
        move || {
            let portal = portal.get()?.ok()?;
            let account = portal
                .accounts
                .into_iter()
                .find(|a| a.account_id == account_id)?;
            let ps = account
                .permission_sets
                .into_iter()
                .find(|p| p.permission_set_id == permission_set_id)?;
            (ps.status != ProvisioningStatus::NotProvisioned)
                .then_some((account.provider, ps.console_url))
        }
    };
    view! {
        {move || target().map(|(provider, console_url)| view! {
            <ConsoleButton
                account_id=account_id.clone()
                permission_set_id=permission_set_id.clone()
                provider
                console_url
                label=label.clone()
                error
                small=true
            />
        })}
        {move || error.get().map(|message| view! { <p class="field-error" role="alert">{message}</p> })}
    }
}
