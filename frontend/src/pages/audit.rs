//! The audit trail: filter by time, actor, action, target and outcome; page back through
//! the results with the server's cursor; export them as CSV or JSON Lines; follow one
//! subject's story on its timeline; and verify that the hash chain is intact.

use gatehouse_shared::audit::{AuditAction, AuditEvent, ChainProblemKind, Outcome, VerifyReport};
use gatehouse_shared::validate::Faults;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use serde_json::Value;

use crate::api::{self, ApiError, AuditQuery};
use crate::components::alert::ErrorAlert;
use crate::components::badge::OutcomeBadge;
use crate::components::field::{SelectField, TextField};
use crate::components::form::FormState;
use crate::components::set_page_title;
use crate::components::table::DataTable;
use crate::components::time::{local_input_to_utc, local_text, Timestamp};

/// The results shown so far for one query.
#[derive(Debug, Clone, Default)]
struct Results {
    query: AuditQuery,
    events: Vec<AuditEvent>,
    next_cursor: Option<String>,
}

#[component]
pub fn AuditPage() -> impl IntoView {
    set_page_title("Audit");
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let actor = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let target = RwSignal::new(String::new());
    let outcome = RwSignal::new(String::new());
    let results = RwSignal::new(None::<Results>);
    let form = FormState::new();

    // Fetches a page for `query`; with a cursor it appends to what is shown.
    let fetch = move |query: AuditQuery, cursor: Option<String>| {
        spawn_local(async move {
            match api::audit_events(&query, cursor.as_deref()).await {
                Ok(page) => {
                    form.succeed(None);
                    results.update(|r| match (r, cursor) {
                        (Some(shown), Some(_)) => {
                            shown.events.extend(page.events);
                            shown.next_cursor = page.next_cursor;
                        }
                        (r, _) => {
                            *r = Some(Results {
                                query,
                                events: page.events,
                                next_cursor: page.next_cursor,
                            });
                        }
                    });
                }
                Err(e) => form.fail(e),
            }
        });
    };

    let search = move || {
        if !form.start() {
            return;
        }
        let mut faults = Faults::new();
        let mut time = |field: &str, raw: String| {
            if raw.trim().is_empty() {
                String::new()
            } else {
                faults
                    .check(
                        field,
                        local_input_to_utc(&raw)
                            .ok_or_else(|| "Enter a date and time.".to_string()),
                    )
                    .unwrap_or_default()
            }
        };
        let query = AuditQuery {
            from: time("from", from.get_untracked()),
            to: time("to", to.get_untracked()),
            actor: actor.get_untracked(),
            action: action.get_untracked(),
            target: target.get_untracked(),
            outcome: outcome.get_untracked(),
        };
        if form.check(faults) {
            fetch(query, None);
        }
    };
    search();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        search();
    };
    let clear = move |_| {
        for field in [from, to, actor, action, target, outcome] {
            field.set(String::new());
        }
        search();
    };
    let load_more = move |_| {
        let Some((query, cursor)) = results.with_untracked(|r| {
            r.as_ref()
                .and_then(|r| r.next_cursor.clone().map(|c| (r.query.clone(), c)))
        }) else {
            return;
        };
        if form.start() {
            fetch(query, Some(cursor));
        }
    };
    let outcomes = Signal::stored(vec![
        (String::new(), "Any".to_string()),
        (Outcome::Success.as_str().to_string(), "Success".to_string()),
        (Outcome::Failure.as_str().to_string(), "Failure".to_string()),
        (Outcome::Denied.as_str().to_string(), "Denied".to_string()),
    ]);

    view! {
        <section class="page">
            <h1>"Audit trail"</h1>
            <VerifyPanel />
            <section class="card" aria-labelledby="filters-heading">
                <h2 id="filters-heading">"Search events"</h2>
                <form on:submit=submit novalidate class="filters">
                    <TextField id="audit-from" label="From" kind="datetime-local" value=from error=form.field_error("from") />
                    <TextField id="audit-to" label="To" kind="datetime-local" value=to error=form.field_error("to") />
                    <TextField id="audit-actor" label="Actor" value=actor placeholder="username or user ID" autocomplete="off" error=form.field_error("actor") />
                    <TextField id="audit-action" label="Action" value=action placeholder="auth.login or directory.*" autocomplete="off" suggestions=AuditAction::filter_choices() error=form.field_error("action") />
                    <TextField id="audit-target" label="Target ID" value=target autocomplete="off" error=form.field_error("target") />
                    <SelectField id="audit-outcome" label="Outcome" value=outcome options=outcomes />
                    <div class="actions">
                        <button type="submit" disabled=move || form.busy.get()>"Search"</button>
                        <button type="button" class="secondary" on:click=clear>"Clear filters"</button>
                    </div>
                </form>
            </section>
            <ErrorAlert error=form.error />
            {move || {
                results
                    .with(|r| r.as_ref().map(|r| (r.events.clone(), r.next_cursor.is_some())))
                    .map(|(events, more)| {
                        let count = events.len();
                        let query = results.with_untracked(|r| r.as_ref().map(|r| r.query.clone())).unwrap_or_default();
                        view! {
                            {(count > 0).then(|| view! {
                                <div class="actions export">
                                    <a class="button secondary" href=api::audit_export_url(&query, "csv") rel="external" download>"Export CSV"</a>
                                    <a class="button secondary" href=api::audit_export_url(&query, "jsonl") rel="external" download>"Export JSON Lines"</a>
                                </div>
                            })}
                            <p class="muted" role="status">
                                {match (count, more) {
                                    (0, _) => "No events match these filters.".to_string(),
                                    (1, false) => "1 event.".to_string(),
                                    (n, false) => format!("{n} events."),
                                    (n, true) => format!("Showing the newest {n} events."),
                                }}
                            </p>
                            {(count > 0).then(|| view! { <EventTable events /> })}
                            {more.then(|| view! {
                                <button type="button" class="secondary" on:click=load_more disabled=move || form.busy.get()>
                                    "Load more"
                                </button>
                            })}
                        }
                    })
            }}
        </section>
    }
}

#[component]
fn EventTable(events: Vec<AuditEvent>) -> impl IntoView {
    view! {
        <DataTable caption="Audit events, newest first" wide=true headers=&["Time", "Actor", "Action", "Target", "Outcome", "Reason", "Details"]>
            {events.into_iter().map(|e| view! { <EventRow e /> }).collect_view()}
        </DataTable>
    }
}

#[component]
fn EventRow(e: AuditEvent) -> impl IntoView {
    let target = target_text(&e);
    let target_title = e.target_id.clone().unwrap_or_default();
    let timeline_id = e.target_id.clone();
    let details = serde_json::to_string_pretty(&e.details).unwrap_or_default();
    let context = [
        e.source_ip.as_ref().map(|ip| format!("Source IP: {ip}")),
        e.user_agent.as_ref().map(|ua| format!("User agent: {ua}")),
        Some(format!("Event #{} · hash {}", e.seq, e.hash)),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("\n");
    view! {
        <tr>
            <td class="nowrap"><Timestamp at=e.occurred_at /></td>
            <td>{e.actor_name}</td>
            <td><code>{e.action}</code></td>
            <td title=target_title>
                {target}
                {timeline_id.map(|id| view! {
                    " "
                    <A href=format!("/audit/timeline/{id}") attr:class="small" attr:aria-label=format!("Timeline of {id}")>"Timeline"</A>
                })}
            </td>
            <td><OutcomeBadge outcome=e.outcome /></td>
            <td>{e.reason.unwrap_or_else(|| "—".into())}</td>
            <td>
                <details>
                    <summary>{format!("Event #{}", e.seq)}</summary>
                    <pre>{context} "\n" {details}</pre>
                </details>
            </td>
        </tr>
    }
}

/// "group release-approvers" when the event names its target, else its type and a short ID
/// (the full ID is in the cell's title).
fn target_text(e: &AuditEvent) -> String {
    let keys: &[&str] = match e.target_type.as_str() {
        "user" => &["username"],
        "group" => &["name", "group"],
        _ => &["name"],
    };
    let named = |v: &Value| {
        keys.iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string))
    };
    let name = named(&e.details)
        .or_else(|| e.details.get("after").and_then(named))
        .or_else(|| e.details.get("before").and_then(named))
        .or_else(|| {
            // A person acting on their own account (sign-in, TOTP): the actor names it.
            (e.target_type == "user" && e.target_id.is_some() && e.target_id == e.actor_id)
                .then(|| e.actor_name.clone())
        });
    match (name, &e.target_id) {
        (Some(name), _) => format!("{} {name}", e.target_type),
        (None, Some(id)) if id.chars().count() > 13 => {
            format!(
                "{} {}…",
                e.target_type,
                id.chars().take(8).collect::<String>()
            )
        }
        (None, Some(id)) => format!("{} {id}", e.target_type),
        (None, None) => e.target_type.clone(),
    }
}

/// Asks the server to walk the chain and says plainly what it found.
#[component]
fn VerifyPanel() -> impl IntoView {
    let report = RwSignal::new(None::<Result<VerifyReport, ApiError>>);
    let busy = RwSignal::new(false);
    let verify = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            report.set(Some(api::audit_verify().await));
            busy.set(false);
        });
    };
    view! {
        <section class="card" aria-labelledby="verify-heading">
            <h2 id="verify-heading">"Verify chain"</h2>
            <p>"Checks every event's hash against the one before it, and the signed checkpoints."</p>
            <button type="button" on:click=verify disabled=move || busy.get()>
                {move || if busy.get() { "Verifying…" } else { "Verify chain" }}
            </button>
            {move || report.get().map(|r| match r {
                Ok(r) if r.intact => view! { <p class="verify verify-ok" role="status">{intact_text(&r)}</p> }.into_any(),
                Ok(r) => view! { <p class="verify verify-bad" role="alert">{broken_text(&r)}</p> }.into_any(),
                Err(e) => view! { <ErrorAlert error=Signal::stored(Some(e.message)) /> }.into_any(),
            })}
        </section>
    }
}

fn events_text(n: i64) -> String {
    if n == 1 {
        "1 event".into()
    } else {
        format!("{n} events")
    }
}

fn intact_text(r: &VerifyReport) -> String {
    let checkpoint = r.last_checkpoint.as_ref().map_or_else(
        || "no signed checkpoint yet".to_string(),
        |c| {
            format!(
                "up to checkpoint #{} (event {}) at {}",
                c.id,
                c.event_seq,
                local_text(c.signed_at)
            )
        },
    );
    let unsigned = match r.unsigned_events {
        0 => "every event is signed".to_string(),
        1 => "1 newer event not yet signed".to_string(),
        n => format!("{n} newer events not yet signed"),
    };
    format!(
        "Chain intact: {}, {checkpoint}; {unsigned}.",
        events_text(r.events_checked)
    )
}

fn broken_text(r: &VerifyReport) -> String {
    match &r.problem {
        Some(p) => {
            let kind = match p.kind {
                ChainProblemKind::Altered => "altered",
                ChainProblemKind::Missing => "missing events",
                ChainProblemKind::Reordered => "reordered",
                ChainProblemKind::CheckpointInvalid => "checkpoint invalid",
                ChainProblemKind::Truncated => "truncated",
            };
            format!(
                "Chain broken at event {} ({kind}): {} ({} checked.)",
                p.seq,
                p.message,
                events_text(r.events_checked)
            )
        }
        None => format!(
            "Chain not intact ({} checked); the server gave no detail.",
            events_text(r.events_checked)
        ),
    }
}

/// `/audit/timeline/:id`: everything that happened to one subject, oldest first — for a
/// request: asked, each decision, the grant, credentials issued under it, its end.
#[component]
pub fn TimelinePage() -> impl IntoView {
    set_page_title("Audit timeline");
    let params = use_params_map();
    let subject = move || params.with(|p| p.get("id").unwrap_or_default());
    let events = LocalResource::new(move || {
        let id = subject();
        async move { api::audit_timeline(&id).await }
    });
    view! {
        <section class="page">
            <p><A href="/audit">"← Audit trail"</A></p>
            <h1>"Timeline"</h1>
            <p class="muted">"Everything recorded about " <code>{subject}</code> ", oldest first."</p>
            <Suspense fallback=|| view! { <p role="status">"Loading the timeline…"</p> }>
                {move || events.get().map(|r| match r {
                    Ok(list) if list.is_empty() => view! {
                        <p role="status">"No events name this ID. Check it, or search the trail by target."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ol class="timeline" aria-label="Timeline">
                            {list.into_iter().map(|e| view! { <TimelineItem e /> }).collect_view()}
                        </ol>
                    }.into_any(),
                    Err(e) => view! { <ErrorAlert error=Signal::stored(Some(e.message)) /> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn TimelineItem(e: AuditEvent) -> impl IntoView {
    let details = serde_json::to_string_pretty(&e.details).unwrap_or_default();
    let summary = [
        e.reason.clone(),
        e.details
            .get("comment")
            .and_then(Value::as_str)
            .map(|c| format!("“{c}”")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    view! {
        <li class="timeline-item">
            <div class="timeline-head">
                <Timestamp at=e.occurred_at />
                <code>{e.action.clone()}</code>
                <OutcomeBadge outcome=e.outcome />
            </div>
            <div>{format!("by {}", e.actor_name)} {(!summary.is_empty()).then(|| format!(" — {summary}"))}</div>
            <details>
                <summary>{format!("Event #{}", e.seq)}</summary>
                <pre>{details}</pre>
            </details>
        </li>
    }
}
