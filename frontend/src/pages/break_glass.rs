//! Break-glass: ask for an account's root credential, decide as a custodian (with a fresh
//! TOTP code), and, once both custodian groups approved, reveal the root password and the
//! current TOTP code (hidden again after 30 seconds) or take a task-scoped root session
//! inside the window; then write the review note. Also the root-credential vault: rotation
//! state, "record rotation" for custodians, new entries for administrators.

use std::time::Duration;

use gatehouse_shared::auth::{Role, TotpCode};
use gatehouse_shared::breakglass::{
    self as rules, BreakGlassRequest, BreakGlassStatus, CreateBreakGlass, CreateVaultEntry,
    CustodianSlot, DecideBreakGlass, RecordRotation, RevealWhat, RootSession, RootTask, VaultEntry,
};
use gatehouse_shared::error::ErrorCode;
use gatehouse_shared::text::countdown_text;
use gatehouse_shared::validate::Faults;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

use crate::api;
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, Tone};
use crate::components::copy::CopyBlock;
use crate::components::field::{SelectField, TextField};
use crate::components::form::FormState;
use crate::components::loaded::{Empty, Loaded};
use crate::components::set_page_title;
use crate::components::table::DataTable;
use crate::components::time::{epoch_ms, ticking_now, Timestamp};
use crate::session::use_session;

/// Revealed values disappear from the page after this long.
const SHOW_SECRET_MS: u64 = 30_000;

fn status_badge(s: BreakGlassStatus) -> impl IntoView {
    let tone = match s {
        BreakGlassStatus::Pending => Tone::Warn,
        BreakGlassStatus::Approved => Tone::Good,
        BreakGlassStatus::Rejected | BreakGlassStatus::Expired => Tone::Bad,
        BreakGlassStatus::Cancelled | BreakGlassStatus::Closed => Tone::Neutral,
    };
    view! { <Badge tone text=s.as_str() /> }
}

fn rotation_badge(e: &VaultEntry) -> impl IntoView {
    if e.rotation.required {
        view! { <Badge tone=Tone::Bad text="rotation required" /> }
    } else {
        view! { <Badge tone=Tone::Good text="current" /> }
    }
}

// --- the list and the request form ---------------------------------------------------

#[component]
pub fn BreakGlassPage() -> impl IntoView {
    set_page_title("Break-glass");
    let requests = LocalResource::new(api::break_glass_requests);
    let vault = LocalResource::new(api::vault_entries);
    view! {
        <section class="page">
            <h1>"Break-glass"</h1>
            <p class="lead">
                "Root credentials are opened only in an emergency: a password custodian and an MFA custodian must both approve, and every reveal is recorded and announced."
            </p>
            <Loaded data=move || vault.get() loading="Loading…" let:entries
                empty=Empty::list(|| view! { <p class="card empty-state">"No root credentials are in the vault yet. An administrator adds them under Root vault."</p> })>
                <RequestForm entries on_created=move || requests.refetch() />
            </Loaded>
            <Loaded data=move || requests.get() loading="Loading requests…" let:list
                empty=Empty::list(|| view! { <p class="muted">"No break-glass requests: none of yours, and none waiting for you."</p> })>
                <RequestTable list />
            </Loaded>
        </section>
    }
}

#[component]
fn RequestForm(
    entries: Vec<VaultEntry>,
    on_created: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let form = FormState::new();
    let entry = RwSignal::new(entries.first().map(|e| e.id.clone()).unwrap_or_default());
    let justification = RwSignal::new(String::new());
    let options: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e.id.clone(),
                format!("{} ({})", e.account_name, e.account_id),
            )
        })
        .collect();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut f = Faults::new();
        f.check(
            "justification",
            rules::justification(&justification.get_untracked()),
        );
        if !form.check(f) {
            return;
        }
        let body = CreateBreakGlass {
            vault_entry_id: entry.get_untracked(),
            justification: justification.get_untracked(),
        };
        spawn_local(async move {
            match api::create_break_glass(&body).await {
                Ok(r) => {
                    justification.set(String::new());
                    let told = r
                        .notified
                        .as_ref()
                        .map(|n| format!(" {}", n.sentence()))
                        .unwrap_or_default();
                    form.succeed(Some(format!("Requested.{told}")));
                    on_created();
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <form class="card form" on:submit=submit aria-labelledby="bg-request-heading">
            <h2 id="bg-request-heading">"Ask for root access"</h2>
            <ErrorAlert error=form.error />
            <Notice message=form.notice />
            <SelectField id="bg-entry" label="Root credential of" value=entry options=Signal::stored(options) />
            <TextField
                id="bg-justification"
                label="Justification"
                value=justification
                error=form.field_error("justification")
                hint="What is broken, and why nothing less than root will do (at least 10 characters)."
                required=true
            />
            <button type="submit" disabled=move || form.busy.get()>"Request break-glass"</button>
        </form>
    }
}

#[component]
fn RequestTable(list: Vec<BreakGlassRequest>) -> impl IntoView {
    view! {
        <DataTable caption="Break-glass requests" headers=&["Account", "Requester", "Status", "Password custodians", "MFA custodians", "Asked", ""]>
            {list
                .into_iter()
                .map(|r| {
                    let href = format!("/break-glass/{}", r.id);
                    view! {
                        <tr>
                            <td>{r.account_name.clone()} " " <code>{r.account_id.clone()}</code></td>
                            <td>{r.requester_name.clone()}</td>
                            <td>{status_badge(r.status)} {r.can_decide.then(|| view! { " " <Badge tone=Tone::Warn text="needs you" /> })}</td>
                            <td>{format!("{} of {}", r.password_approvals, r.password_approvals_needed)}</td>
                            <td>{format!("{} of {}", r.mfa_approvals, r.mfa_approvals_needed)}</td>
                            <td><Timestamp at=r.created_at /></td>
                            <td><a href=href>"Open"</a></td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
    }
}

// --- one request ---------------------------------------------------------------------

#[component]
pub fn BreakGlassDetailPage() -> impl IntoView {
    set_page_title("Break-glass request");
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let detail = LocalResource::new(move || {
        let id = id.get();
        async move { api::break_glass(&id).await }
    });
    let reload = move || detail.refetch();
    view! {
        <section class="page">
            <p><a href="/break-glass">"← All break-glass requests"</a></p>
            <Loaded data=move || detail.get() loading="Loading the request…" let:d>
                {
                    let r = d.request.clone();
                    view! {
                        <h1>"Root access to " {r.account_name.clone()}</h1>
                        <Summary r=r.clone() />
                        <Approvals r=r.clone() />
                        {r.can_decide.then(|| view! { <DecidePanel id=r.id.clone() on_done=reload /> })}
                        {r.can_use.then(|| view! { <WindowPanel r=r.clone() on_used=reload /> })}
                        {r.review_due.then(|| view! { <ReviewPanel id=r.id.clone() on_done=reload /> })}
                        <Timeline events=d.timeline />
                    }
                }
            </Loaded>
        </section>
    }
}

#[component]
fn Summary(r: BreakGlassRequest) -> impl IntoView {
    let session = use_session();
    let mine = session.me().is_some_and(|me| me.user.id == r.requester_id);
    let pending = r.status == BreakGlassStatus::Pending;
    let error = RwSignal::new(None::<String>);
    let id = r.id.clone();
    let cancel = move |_| {
        let id = id.clone();
        spawn_local(async move {
            match api::cancel_break_glass(&id).await {
                Ok(_) => {
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().reload();
                    }
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    view! {
        <dl class="card summary">
            <dt>"Status"</dt><dd>{status_badge(r.status)}</dd>
            <dt>"Requester"</dt><dd>{r.requester_name.clone()}</dd>
            <dt>"Account"</dt><dd><code>{r.account_id.clone()}</code></dd>
            <dt>"Justification"</dt><dd>{r.justification.clone()}</dd>
            <dt>"Asked"</dt><dd><Timestamp at=r.created_at /></dd>
            {pending.then(|| view! { <dt>"Expires unless approved"</dt><dd><Timestamp at=r.expires_at /></dd> })}
            {r.window_ends_at.map(|at| view! { <dt>"Window ends"</dt><dd><Timestamp at /></dd> })}
            {r.review_note.clone().map(|note| view! { <dt>"Review"</dt><dd class="review-note">{note}</dd> })}
        </dl>
        <ErrorAlert error />
        {(mine && pending).then(|| view! { <button type="button" class="secondary" on:click=cancel>"Cancel request"</button> })}
    }
}

#[component]
fn Approvals(r: BreakGlassRequest) -> impl IntoView {
    let group = |slot: CustodianSlot, title: &'static str, have: i64, need: i64| {
        let people: Vec<_> = r
            .decisions
            .iter()
            .filter(|d| d.counts_as == Some(slot))
            .map(|d| view! { <li>{d.username.clone()} " approved " <Timestamp at=d.at /></li> })
            .collect();
        let done = have >= need;
        view! {
            <section class="card approvals" aria-label=title>
                <h3>{title} " " {if done { view! { <Badge tone=Tone::Good text=format!("{have} of {need}") /> } } else { view! { <Badge tone=Tone::Warn text=format!("{have} of {need}") /> } }}</h3>
                {if people.is_empty() { view! { <p class="muted">"No approval yet."</p> }.into_any() } else { view! { <ul>{people}</ul> }.into_any() }}
            </section>
        }
    };
    let rejected: Vec<_> = r
        .decisions
        .iter()
        .filter(|d| d.decision == "reject")
        .map(|d| view! { <p class="alert alert-error">{d.username.clone()} " rejected it: " {d.comment.clone()}</p> })
        .collect();
    view! {
        <div class="approval-groups">
            {group(CustodianSlot::Password, "Password custodians", r.password_approvals, r.password_approvals_needed)}
            {group(CustodianSlot::Mfa, "MFA custodians", r.mfa_approvals, r.mfa_approvals_needed)}
        </div>
        {rejected}
    }
}

#[component]
fn DecidePanel(id: String, on_done: impl Fn() + Send + Sync + Copy + 'static) -> impl IntoView {
    let form = FormState::new();
    let code = RwSignal::new(String::new());
    let comment = RwSignal::new(String::new());
    let decide = move |verb: &'static str, id: String| {
        if !form.start() {
            return;
        }
        let body = DecideBreakGlass {
            comment: Some(comment.get_untracked()),
            totp: Some(code.get_untracked()).filter(|c| !c.trim().is_empty()),
        };
        spawn_local(async move {
            match api::decide_break_glass(&id, verb, &body).await {
                Ok(_) => {
                    form.succeed(None);
                    on_done();
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let (id_a, id_r) = (id.clone(), id);
    view! {
        <form class="card form" aria-labelledby="decide-heading" on:submit=|ev| ev.prevent_default()>
            <h2 id="decide-heading">"Your decision"</h2>
            <p class="hint">"Confirm with the current code from your authenticator app."</p>
            <ErrorAlert error=form.error />
            <TextField id="decide-totp" label="Authenticator code" value=code inputmode="numeric" autocomplete="one-time-code" maxlength=6 error=form.field_error("totp") />
            <TextField id="decide-comment" label="Comment" value=comment error=form.field_error("comment") />
            <div class="actions">
                <button type="button" disabled=move || form.busy.get() on:click=move |_| decide("approve", id_a.clone())>"Approve"</button>
                <button type="button" class="danger" disabled=move || form.busy.get() on:click=move |_| decide("reject", id_r.clone())>"Reject"</button>
            </div>
        </form>
    }
}

/// What the requester asked for in the window, kept to ask again after a step-up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WindowAction {
    Reveal(RevealWhat),
    RootSession,
}

/// The open window: a countdown, the reveals (hidden again after 30 s) and the root session,
/// each after a fresh TOTP step-up of the requester's own (asked for here when it is due).
#[component]
fn WindowPanel(
    r: BreakGlassRequest,
    on_used: impl Fn() + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let now = ticking_now();
    let ends = r.window_ends_at.map_or(0.0, epoch_ms);
    let remaining = move || ends - now.get();
    let password = RwSignal::new(None::<String>);
    let code = RwSignal::new(None::<String>);
    let session = RwSignal::new(None::<RootSession>);
    let error = RwSignal::new(None::<String>);
    let task = RwSignal::new(RootTask::AuditRootCredentials.as_str().to_string());
    // Set when the server asked for a step-up: the action to run again after it.
    let pending = RwSignal::new(None::<WindowAction>);
    let step_up_code = RwSignal::new(String::new());
    let id = StoredValue::new(r.id.clone());
    let run = move |action: WindowAction| {
        let id = id.get_value();
        spawn_local(async move {
            let outcome = match action {
                WindowAction::Reveal(what) => api::reveal(&id, what).await.map(|v| {
                    let target = if what == RevealWhat::Password {
                        password
                    } else {
                        code
                    };
                    target.set(Some(v.value));
                    set_timeout(
                        move || {
                            let _ = target.try_set(None);
                        },
                        Duration::from_millis(SHOW_SECRET_MS),
                    );
                }),
                WindowAction::RootSession => {
                    let Some(t) = RootTask::parse(&task.get_untracked()) else {
                        return;
                    };
                    api::root_session(&id, t)
                        .await
                        .map(|s| session.set(Some(s)))
                }
            };
            match outcome {
                Ok(()) => {
                    error.set(None);
                    pending.set(None);
                }
                Err(e) if e.code == ErrorCode::MfaRequired => {
                    pending.set(Some(action));
                    error.set(Some(e.message));
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    let confirm = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let totp = TotpCode {
            code: step_up_code.get_untracked().trim().to_string(),
        };
        spawn_local(async move {
            match api::step_up(&totp).await {
                Ok(_) => {
                    step_up_code.set(String::new());
                    if let Some(action) = pending.get_untracked() {
                        run(action);
                    }
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    let reveal = move |what: RevealWhat| run(WindowAction::Reveal(what));
    let reveal_pw = reveal;
    let start_session = move |_| run(WindowAction::RootSession);
    let tasks: Vec<(String, String)> = RootTask::ALL
        .iter()
        .map(|t| (t.as_str().to_string(), t.label().to_string()))
        .collect();
    let _ = on_used;
    view! {
        <section class="card window" aria-labelledby="window-heading">
            <div class="panel-head">
                <h2 id="window-heading">"Your window is open"</h2>
                <p class="countdown" role="timer" aria-live="off">{move || if remaining() > 0.0 { format!("Closes in {}", countdown_text(remaining())) } else { "Closed".to_string() }}</p>
            </div>
            <p class="hint">"Each reveal is recorded and the custodians are told. Values disappear from this page after 30 seconds. The root credential must be rotated afterwards."</p>
            <ErrorAlert error />
            <Show when=move || pending.get().is_some()>
                <form class="inline-form" on:submit=confirm aria-label="Confirm with your authenticator">
                    <TextField id="window-step-up" label="Authenticator code" value=step_up_code inputmode="numeric" autocomplete="one-time-code" maxlength=6 hint="A current code from your own authenticator; it counts for 5 minutes." />
                    <button type="submit">"Confirm and continue"</button>
                </form>
            </Show>
            <div class="actions">
                <button type="button" on:click=move |_| reveal_pw(RevealWhat::Password)>"Reveal root password"</button>
                <button type="button" on:click=move |_| reveal(RevealWhat::Totp)>"Reveal TOTP code"</button>
            </div>
            {move || password.get().map(|v| view! { <CopyBlock id="revealed-password" label="Root password" text=Signal::stored(v) inline=true /> })}
            {move || code.get().map(|v| view! { <CopyBlock id="revealed-totp" label="TOTP code" text=Signal::stored(v) inline=true hint="Valid for the current 30-second step." /> })}
            <h3>"Or: a task-scoped root session"</h3>
            <SelectField id="root-task" label="Root task" value=task options=Signal::stored(tasks) />
            <button type="button" class="secondary" on:click=start_session>"Start root session"</button>
            {move || session.get().map(|s| {
                let formats = s.formats.clone();
                view! {
                    <div class="panel credentials" aria-label="Root session credentials">
                        {match s.task_policy_arn.clone() {
                            Some(arn) => view! {
                                <p class="hint">"Acts as " <code>{s.principal_arn.clone()}</code> " until " <Timestamp at=s.expiration /> ", limited by AWS to the task policy " <code>{arn}</code> "."</p>
                            }.into_any(),
                            None => view! {
                                <p class="hint">"Acts as " <code>{s.principal_arn.clone()}</code> " until " <Timestamp at=s.expiration /> ", limited to this policy:"</p>
                                <pre>{s.policy_document.clone()}</pre>
                            }.into_any(),
                        }}
                        {formats.into_iter().map(|(name, text)| view! { <CopyBlock id=format!("root-{name}") label=name text=Signal::stored(text) /> }).collect_view()}
                    </div>
                }
            })}
        </section>
    }
}

#[component]
fn ReviewPanel(id: String, on_done: impl Fn() + Send + Sync + Copy + 'static) -> impl IntoView {
    let form = FormState::new();
    let note = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut f = Faults::new();
        f.check("note", rules::note(&note.get_untracked(), true));
        if !form.check(f) {
            return;
        }
        let (id, text) = (id.clone(), note.get_untracked());
        spawn_local(async move {
            match api::review_break_glass(&id, &text).await {
                Ok(_) => {
                    form.succeed(None);
                    on_done();
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <form class="card form" on:submit=submit aria-labelledby="review-heading">
            <h2 id="review-heading">"Post-incident review"</h2>
            <ErrorAlert error=form.error />
            <TextField id="review-note" label="What happened and what was done" value=note error=form.field_error("note") required=true />
            <button type="submit" disabled=move || form.busy.get()>"Submit review"</button>
        </form>
    }
}

#[component]
fn Timeline(events: Vec<gatehouse_shared::audit::AuditEvent>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">"Timeline"</h2>
            <ol class="timeline">
                {events.into_iter().map(|e| view! {
                    <li><Timestamp at=e.occurred_at /> " " <code>{e.action.clone()}</code> " by " {e.actor_name.clone()}</li>
                }).collect_view()}
            </ol>
        </section>
    }
}

// --- the vault -----------------------------------------------------------------------

#[component]
pub fn VaultPage() -> impl IntoView {
    set_page_title("Root vault");
    let session = use_session();
    let admin = move || session.has_role(Role::Administrator);
    let vault = LocalResource::new(api::vault_entries);
    let reload = move || vault.refetch();
    view! {
        <section class="page">
            <h1>"Root vault"</h1>
            <p class="lead">"Each account's root password and MFA seed, sealed. Nobody reads them here: they open only through an approved break-glass request."</p>
            <Loaded data=move || vault.get() loading="Loading the vault…" let:list
                empty=Empty::list(|| view! { <p class="card empty-state">"The vault is empty."</p> })>
                <DataTable caption="Vault entries" headers=&["Account", "Password custodians", "MFA custodians", "Approvals", "Window", "Rotation", ""]>
                    {list.into_iter().map(|e| view! { <VaultRow e on_rotated=reload /> }).collect_view()}
                </DataTable>
            </Loaded>
            <Show when=admin>
                <NewVaultEntry on_created=reload />
            </Show>
        </section>
    }
}

#[component]
fn VaultRow(e: VaultEntry, on_rotated: impl Fn() + Send + Sync + Copy + 'static) -> impl IntoView {
    let open = RwSignal::new(false);
    let form = FormState::new();
    let password = RwSignal::new(String::new());
    let seed = RwSignal::new(String::new());
    let id = e.id.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let body = RecordRotation {
            password: Some(password.get_untracked()).filter(|p| !p.is_empty()),
            totp_seed: Some(seed.get_untracked()).filter(|s| !s.trim().is_empty()),
        };
        let id = id.clone();
        spawn_local(async move {
            match api::record_rotation(&id, &body).await {
                Ok(_) => {
                    form.succeed(None);
                    open.set(false);
                    on_rotated();
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let rotation = match (&e.rotation.required_since, &e.rotation.rotated_at) {
        (Some(since), _) => view! { <span>{rotation_badge(&e)} " since " <Timestamp at=*since /></span> }.into_any(),
        (None, Some(at)) => view! { <span>{rotation_badge(&e)} " rotated " <Timestamp at=*at /> " by " {e.rotation.rotated_by.clone().unwrap_or_default()}</span> }.into_any(),
        (None, None) => view! { <span>{rotation_badge(&e)}</span> }.into_any(),
    };
    let label = format!("Record rotation for {}", e.account_name);
    view! {
        <tr>
            <td>{e.account_name.clone()} " " <code>{e.account_id.clone()}</code></td>
            <td>{e.password_custodians.name.clone()}</td>
            <td>{e.mfa_custodians.name.clone()}</td>
            <td>{format!("{} + {}", e.password_approvals, e.mfa_approvals)}</td>
            <td>{format!("{} min", e.window_secs / 60)}</td>
            <td>{rotation}</td>
            <td>
                {e.is_custodian.then(|| view! { <button type="button" class="secondary small" aria-label=label.clone() on:click=move |_| open.update(|o| *o = !*o)>"Record rotation"</button> })}
                <Show when=move || open.get()>
                    <form class="form inline-form" on:submit=submit.clone() aria-label="Record rotation">
                        <ErrorAlert error=form.error />
                        <TextField id="rotate-password" label="New root password" kind="password" autocomplete="new-password" value=password error=form.field_error("password") />
                        <TextField id="rotate-seed" label="New TOTP seed (base32)" value=seed error=form.field_error("totp_seed") />
                        <button type="submit" disabled=move || form.busy.get()>"Save rotation"</button>
                    </form>
                </Show>
            </td>
        </tr>
    }
}

#[component]
fn NewVaultEntry(on_created: impl Fn() + Send + Sync + Copy + 'static) -> impl IntoView {
    let form = FormState::new();
    let accounts = LocalResource::new(api::accounts);
    let groups = LocalResource::new(api::groups);
    let account = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let seed = RwSignal::new(String::new());
    let pw_group = RwSignal::new(String::new());
    let mfa_group = RwSignal::new(String::new());
    let m = RwSignal::new("1".to_string());
    let n = RwSignal::new("1".to_string());
    let account_options = Signal::derive(move || {
        let mut o = vec![(String::new(), "Choose an account".to_string())];
        if let Some(Ok(list)) = accounts.get() {
            o.extend(
                list.into_iter()
                    .map(|a| (a.id.clone(), format!("{} ({})", a.name, a.id))),
            );
        }
        o
    });
    let group_options = Signal::derive(move || {
        let mut o = vec![(String::new(), "Choose a group".to_string())];
        if let Some(Ok(list)) = groups.get() {
            o.extend(list.into_iter().map(|g| (g.id.clone(), g.name.clone())));
        }
        o
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let body = CreateVaultEntry {
            account_id: account.get_untracked(),
            password: password.get_untracked(),
            totp_seed: seed.get_untracked(),
            password_group_id: pw_group.get_untracked(),
            mfa_group_id: mfa_group.get_untracked(),
            password_approvals: m.get_untracked().trim().parse().ok(),
            mfa_approvals: n.get_untracked().trim().parse().ok(),
            window_secs: None,
        };
        let faults = rules::check_create(&body);
        if !faults.is_empty() {
            let mut f = Faults::new();
            for x in faults {
                f.push(&x.field, x.message);
            }
            if !form.check(f) {
                return;
            }
        }
        spawn_local(async move {
            match api::create_vault_entry(&body).await {
                Ok(_) => {
                    password.set(String::new());
                    seed.set(String::new());
                    form.succeed(Some("Sealed and saved.".into()));
                    on_created();
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <form class="card form" on:submit=submit aria-labelledby="vault-new-heading">
            <h2 id="vault-new-heading">"Add a root credential"</h2>
            <ErrorAlert error=form.error />
            <Notice message=form.notice />
            <SelectField id="vault-account" label="Account" value=account options=account_options error=form.field_error("account_id") />
            <TextField id="vault-password" label="Root password" kind="password" autocomplete="new-password" value=password error=form.field_error("password") />
            <TextField id="vault-seed" label="Root TOTP seed (base32)" value=seed error=form.field_error("totp_seed") />
            <SelectField id="vault-pw-group" label="Password custodians" value=pw_group options=group_options error=form.field_error("password_group_id") />
            <SelectField id="vault-mfa-group" label="MFA custodians" value=mfa_group options=group_options error=form.field_error("mfa_group_id") />
            <TextField id="vault-m" label="Password approvals needed (M)" value=m inputmode="numeric" error=form.field_error("password_approvals") />
            <TextField id="vault-n" label="MFA approvals needed (N)" value=n inputmode="numeric" error=form.field_error("mfa_approvals") />
            <button type="submit" disabled=move || form.busy.get()>"Seal and save"</button>
        </form>
    }
}
