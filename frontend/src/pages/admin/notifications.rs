//! Notifications: webhook endpoints (add, edit, enable/disable, delete, "send test",
//! rotate the secret, which is shown once with a copy button), the SMTP settings (never the
//! password), and the delivery log with status badges, attempts and the next retry time.

use std::time::Duration;

use gatehouse_shared::notifications::{
    validate_event_types, validate_name, validate_url, CreateEndpoint, Delivery, DeliveryStatus,
    Endpoint, EndpointWithSecret, MailSettings, UpdateEndpoint, EVENT_TYPES,
};
use gatehouse_shared::validate::Faults;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, Tone};
use crate::components::copy::CopyBlock;
use crate::components::field::{CheckboxField, SelectField, TextField};
use crate::components::form::FormState;
use crate::components::loaded::{Empty, Loaded};
use crate::components::set_page_title;
use crate::components::table::DataTable;
use crate::components::time::Timestamp;

#[component]
pub fn NotificationsPage() -> impl IntoView {
    set_page_title("Notifications");
    let endpoints = LocalResource::new(api::notification_endpoints);
    let settings = LocalResource::new(api::notification_settings);
    let page = FormState::new();
    // The secret of the endpoint just created or rotated: shown once.
    let secret: RwSignal<Option<EndpointWithSecret>> = RwSignal::new(None);
    // The endpoint being edited, if any.
    let editing: RwSignal<Option<Endpoint>> = RwSignal::new(None);
    let log_version = RwSignal::new(0_u32);
    let reload = move || {
        endpoints.refetch();
        log_version.update(|v| *v += 1);
    };
    let on_saved = move |message: String, created: Option<EndpointWithSecret>| {
        page.notice.set(Some(message));
        if created.is_some() {
            secret.set(created);
        }
        editing.set(None);
        reload();
    };
    let on_cancel = move || editing.set(None);
    view! {
        <section class="page">
            <h1>"Notifications"</h1>
            <p class="muted">
                "Gatehouse sends a signed webhook to each endpoint and an e-mail to each person concerned when access is requested, decided, granted or ended, and on every break-glass step."
            </p>
            <ErrorAlert error=page.error />
            <Notice message=page.notice />
            {move || secret.get().map(|s| view! { <SecretShownOnce shown=s on_close=move || secret.set(None) /> })}
            <section class="card" aria-labelledby="endpoints-heading">
                <h2 id="endpoints-heading">"Webhook endpoints"</h2>
                <Loaded data=move || endpoints.get() loading="Loading endpoints…" let:list
                    empty=Empty::list(|| view! { <p>"No webhook endpoints yet. Add one below to send notifications to your chat, ticketing or SIEM system."</p> })>
                    <EndpointTable endpoints=list page secret editing reload />
                </Loaded>
            </section>
            {move || {
                let current = editing.get();
                view! { <EndpointForm editing=current on_saved on_cancel /> }
            }}
            <DeliveryLog endpoints log_version />
            <section class="card" aria-labelledby="mail-heading">
                <h2 id="mail-heading">"E-mail (SMTP)"</h2>
                <Loaded data=move || settings.get() loading="Loading mail settings…" let:s>
                    <MailSettingsView settings=s />
                </Loaded>
            </section>
        </section>
    }
}

#[component]
fn SecretShownOnce(
    shown: EndpointWithSecret,
    on_close: impl Fn() + Send + Sync + 'static,
) -> impl IntoView {
    let EndpointWithSecret { endpoint, secret } = shown;
    let heading = format!("Signing secret for {}", endpoint.name);
    view! {
        <section class="card secret-once" role="region" aria-labelledby="secret-heading">
            <h2 id="secret-heading">{heading}</h2>
            <p>
                "This is the only time the secret is shown. Store it with the receiver: it checks "
                <code>"X-Gatehouse-Signature"</code>
                " with it (see the API documentation)."
            </p>
            <CopyBlock id="endpoint-secret" label="Signing secret" text=Signal::stored(secret) inline=true />
            <div class="actions">
                <button type="button" class="secondary" on:click=move |_| on_close()>"I have stored it"</button>
            </div>
        </section>
    }
}

fn events_text(types: &[String]) -> String {
    if types.is_empty() {
        "All events".into()
    } else {
        types.join(", ")
    }
}

#[component]
fn EndpointTable(
    endpoints: Vec<Endpoint>,
    page: FormState,
    secret: RwSignal<Option<EndpointWithSecret>>,
    editing: RwSignal<Option<Endpoint>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <DataTable caption="Webhook endpoints" headers=&["Name", "URL", "Events", "State", "Actions"]>
            {endpoints
                .into_iter()
                .map(|endpoint| view! { <EndpointRow endpoint page secret editing reload /> })
                .collect_view()}
        </DataTable>
    }
}

#[component]
fn EndpointRow(
    endpoint: Endpoint,
    page: FormState,
    secret: RwSignal<Option<EndpointWithSecret>>,
    editing: RwSignal<Option<Endpoint>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let id = endpoint.id.clone();
    let name = endpoint.name.clone();
    let send_test = {
        let (id, name) = (id.clone(), name.clone());
        move |_| {
            if !page.start() {
                return;
            }
            let (id, name) = (id.clone(), name.clone());
            spawn_local(async move {
                match api::send_test_notification(&id).await {
                    Ok(_) => {
                        page.succeed(Some(format!(
                            "Test sent to {name}. Its delivery appears in the log below."
                        )));
                        reload();
                    }
                    Err(e) => page.fail(e),
                }
            });
        }
    };
    let rotate = {
        let (id, name) = (id.clone(), name.clone());
        move |_| {
            if !page.start() {
                return;
            }
            let (id, name) = (id.clone(), name.clone());
            spawn_local(async move {
                match api::rotate_notification_secret(&id).await {
                    Ok(s) => {
                        page.succeed(Some(format!(
                            "New signing secret for {name}; the old one no longer verifies."
                        )));
                        secret.set(Some(s));
                    }
                    Err(e) => page.fail(e),
                }
            });
        }
    };
    let toggle = {
        let (id, name) = (id.clone(), name.clone());
        let enabled = endpoint.enabled;
        move |_| {
            if !page.start() {
                return;
            }
            let (id, name) = (id.clone(), name.clone());
            spawn_local(async move {
                let change = UpdateEndpoint {
                    enabled: Some(!enabled),
                    ..UpdateEndpoint::default()
                };
                match api::update_notification_endpoint(&id, &change).await {
                    Ok(_) => {
                        let word = if enabled { "Disabled" } else { "Enabled" };
                        page.succeed(Some(format!("{word} {name}.")));
                        reload();
                    }
                    Err(e) => page.fail(e),
                }
            });
        }
    };
    let delete = {
        let (id, name) = (id.clone(), name.clone());
        move |_| {
            if !page.start() {
                return;
            }
            let (id, name) = (id.clone(), name.clone());
            spawn_local(async move {
                match api::delete_notification_endpoint(&id).await {
                    Ok(()) => {
                        page.succeed(Some(format!("Deleted {name} and its delivery log.")));
                        reload();
                    }
                    Err(e) => {
                        confirming.set(false);
                        page.fail(e);
                    }
                }
            });
        }
    };
    let edit = {
        let endpoint = endpoint.clone();
        move |_| editing.set(Some(endpoint.clone()))
    };
    let enabled = endpoint.enabled;
    let delete_name = name.clone();
    view! {
        <tr>
            <th scope="row">{name.clone()}</th>
            <td><code class="wrap">{endpoint.url.clone()}</code></td>
            <td>{events_text(&endpoint.event_types)}</td>
            <td>
                {if enabled {
                    view! { <Badge tone=Tone::Good text="enabled" /> }
                } else {
                    view! { <Badge tone=Tone::Neutral text="disabled" /> }
                }}
            </td>
            <td class="row-actions endpoint-actions">
                <button type="button" class="small" aria-label=format!("Send test to {name}") disabled=move || page.busy.get() || !enabled on:click=send_test>
                    "Send test"
                </button>
                <button type="button" class="secondary small" aria-label=format!("Edit {name}") on:click=edit>"Edit"</button>
                <button type="button" class="secondary small" aria-label=format!("{} {name}", if enabled { "Disable" } else { "Enable" }) on:click=toggle>
                    {if enabled { "Disable" } else { "Enable" }}
                </button>
                <button type="button" class="secondary small" aria-label=format!("Rotate secret of {name}") on:click=rotate>"Rotate secret"</button>
                {move || {
                        let name = delete_name.clone();
                        if confirming.get() {
                            view! {
                                <span class="confirm">
                                    "Delete this endpoint and its log?"
                                    <button type="button" class="danger small" aria-label=format!("Yes, delete {name}") disabled=move || page.busy.get() on:click=delete.clone()>
                                        "Delete"
                                    </button>
                                    <button type="button" class="secondary small" on:click=move |_| confirming.set(false)>"Cancel"</button>
                                </span>
                            }
                            .into_any()
                        } else {
                            view! {
                                <button type="button" class="danger small" aria-label=format!("Delete {name}") on:click=move |_| confirming.set(true)>
                                    "Delete"
                                </button>
                            }
                            .into_any()
                        }
                    }}
            </td>
        </tr>
    }
}

/// Adds an endpoint, or edits `editing`.
#[component]
fn EndpointForm(
    editing: Option<Endpoint>,
    on_saved: impl Fn(String, Option<EndpointWithSecret>) + Copy + Send + Sync + 'static,
    on_cancel: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let edit_id = editing.as_ref().map(|e| e.id.clone());
    let is_edit = edit_id.is_some();
    let name = RwSignal::new(editing.as_ref().map(|e| e.name.clone()).unwrap_or_default());
    let url = RwSignal::new(editing.as_ref().map(|e| e.url.clone()).unwrap_or_default());
    let chosen: Vec<RwSignal<bool>> = EVENT_TYPES
        .iter()
        .map(|t| {
            RwSignal::new(
                editing
                    .as_ref()
                    .is_some_and(|e| e.event_types.iter().any(|x| x == t.as_str())),
            )
        })
        .collect();
    let form = FormState::new();
    let selected = {
        let chosen = chosen.clone();
        move || -> Vec<String> {
            EVENT_TYPES
                .iter()
                .zip(&chosen)
                .filter(|(_, c)| c.get_untracked())
                .map(|(t, _)| (*t).to_string())
                .collect()
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut faults = Faults::new();
        let n = faults.check("name", validate_name(&name.get_untracked()));
        let u = faults.check("url", validate_url(&url.get_untracked()));
        let t = faults.check("event_types", validate_event_types(&selected()));
        if !form.check(faults) {
            return;
        }
        let (Some(n), Some(u), Some(t)) = (n, u, t) else {
            return;
        };
        let edit_id = edit_id.clone();
        spawn_local(async move {
            let result = match &edit_id {
                Some(id) => {
                    let change = UpdateEndpoint {
                        name: Some(n.clone()),
                        url: Some(u),
                        event_types: Some(t),
                        enabled: None,
                    };
                    api::update_notification_endpoint(id, &change)
                        .await
                        .map(|_| (format!("Saved {n}."), None))
                }
                None => {
                    let request = CreateEndpoint {
                        name: n.clone(),
                        url: u,
                        event_types: t,
                        enabled: true,
                    };
                    api::create_notification_endpoint(&request)
                        .await
                        .map(|created| {
                            (
                                format!("Added {n}. Copy its signing secret now."),
                                Some(created),
                            )
                        })
                }
            };
            match result {
                Ok((message, created)) => {
                    form.succeed(None);
                    on_saved(message, created);
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let heading = if is_edit {
        "Edit endpoint"
    } else {
        "Add a webhook endpoint"
    };
    view! {
        <section class="card" aria-labelledby="endpoint-form-heading">
            <h2 id="endpoint-form-heading">{heading}</h2>
            <ErrorAlert error=form.error />
            <form on:submit=submit novalidate class="grid-form">
                <TextField id="endpoint-name" label="Name" value=name autocomplete="off" maxlength=100 error=form.field_error("name") required=true />
                <TextField
                    id="endpoint-url"
                    label="URL"
                    value=url
                    kind="url"
                    autocomplete="off"
                    placeholder="https://hooks.example.com/gatehouse"
                    hint="http:// or https://; receives a signed JSON POST for each event."
                    error=form.field_error("url")
                    required=true
                />
                <fieldset class="event-types">
                    <legend>"Events (none ticked: all events)"</legend>
                    {EVENT_TYPES
                        .iter()
                        .zip(chosen)
                        .map(|(t, checked)| view! { <CheckboxField id=format!("event-{}", t.as_str().replace('.', "-")) label=t.as_str() checked /> })
                        .collect_view()}
                    {move || form.field_error("event_types").get().map(|m| view! { <p class="field-error">{m}</p> })}
                </fieldset>
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>{if is_edit { "Save endpoint" } else { "Add endpoint" }}</button>
                    {is_edit.then(|| view! { <button type="button" class="secondary" on:click=move |_| on_cancel()>"Cancel"</button> })}
                </div>
            </form>
        </section>
    }
}

fn status_badge(status: DeliveryStatus) -> impl IntoView {
    let tone = match status {
        DeliveryStatus::Delivered => Tone::Good,
        DeliveryStatus::Retrying => Tone::Warn,
        DeliveryStatus::Dead => Tone::Bad,
        DeliveryStatus::Pending => Tone::Neutral,
    };
    view! { <Badge tone text=status.as_str() /> }
}

#[component]
fn DeliveryLog(
    endpoints: LocalResource<Result<Vec<Endpoint>, api::ApiError>>,
    log_version: RwSignal<u32>,
) -> impl IntoView {
    let endpoint = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let log = LocalResource::new(move || {
        log_version.track();
        let e = endpoint.get();
        let s = status.get();
        async move {
            api::notification_deliveries(
                Some(e.as_str()).filter(|e| !e.is_empty()),
                Some(s.as_str()).filter(|s| !s.is_empty()),
            )
            .await
        }
    });
    // Deliveries move on in the background: refresh every few seconds.
    if let Ok(handle) = set_interval_with_handle(move || log.refetch(), Duration::from_secs(3)) {
        on_cleanup(move || handle.clear());
    }
    let endpoint_options = Signal::derive(move || {
        let mut options = vec![(String::new(), "All endpoints".to_string())];
        if let Some(Ok(list)) = endpoints.get() {
            options.extend(list.into_iter().map(|e| (e.id, e.name)));
        }
        options
    });
    let status_options = Signal::stored(
        [
            ("", "Any status"),
            ("pending", "pending"),
            ("retrying", "retrying"),
            ("delivered", "delivered"),
            ("dead", "dead"),
        ]
        .iter()
        .map(|(v, l)| ((*v).to_string(), (*l).to_string()))
        .collect::<Vec<_>>(),
    );
    let names = move || match endpoints.get() {
        Some(Ok(list)) => list.into_iter().map(|e| (e.id, e.name)).collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    view! {
        <section class="card" aria-labelledby="log-heading">
            <h2 id="log-heading">"Delivery log"</h2>
            <div class="filters">
                <SelectField id="log-endpoint" label="Endpoint" value=endpoint options=endpoint_options />
                <SelectField id="log-status" label="Status" value=status options=status_options />
                <button type="button" class="secondary" on:click=move |_| log.refetch()>"Refresh"</button>
            </div>
            <Loaded data=move || log.get() loading="Loading deliveries…" let:list
                empty=Empty::list(|| view! { <p>"No deliveries yet. Use \"Send test\" on an endpoint to try one."</p> })>
                {
                    let names = names();
                    view! {
                        <DataTable caption="Deliveries" headers=&["Created", "Event", "To", "Status", "Attempts", "Next retry"]>
                            {list.into_iter().map(|d| view! { <DeliveryRow d=d names=names.clone() /> }).collect_view()}
                        </DataTable>
                    }
                }
            </Loaded>
        </section>
    }
}

#[component]
fn DeliveryRow(d: Delivery, names: Vec<(String, String)>) -> impl IntoView {
    let to = match (d.recipient, d.endpoint_id) {
        (Some(r), _) => format!("e-mail {r}"),
        (None, Some(id)) => names
            .into_iter()
            .find(|(i, _)| *i == id)
            .map_or_else(|| "webhook".to_string(), |(_, n)| format!("webhook {n}")),
        _ => String::new(),
    };
    let attempts = d
        .attempts
        .iter()
        .map(|a| {
            let tone = if a.ok { "ok" } else { "failed" };
            view! { <li>{format!("#{} {tone}: {} ({} ms)", a.attempt, a.detail, a.duration_ms)}</li> }
        })
        .collect_view();
    view! {
        <tr>
            <td><Timestamp at=d.created_at /></td>
            <td><code>{d.event_type}</code></td>
            <td>{to}</td>
            <td>{status_badge(d.status)}</td>
            <td>
                {if d.attempts.is_empty() { Some(view! { <span class="muted">"none yet"</span> }) } else { None }}
                <ul class="attempts">{attempts}</ul>
            </td>
            <td>{d.next_attempt_at.map(|at| view! { <Timestamp at /> })}</td>
        </tr>
    }
}

#[component]
fn MailSettingsView(settings: MailSettings) -> impl IntoView {
    if !settings.configured {
        return view! {
            <p>
                "E-mail is off: no SMTP server is configured. Set "
                <code>"GATEHOUSE_SMTP_HOST"</code>
                " and "
                <code>"GATEHOUSE_SMTP_FROM"</code>
                " (see the README) to send e-mail to the people each event names."
            </p>
        }
        .into_any();
    }
    let row = |k: &'static str, v: String| view! { <dt>{k}</dt><dd>{v}</dd> };
    view! {
        <dl class="facts">
            {row("Server", format!("{}:{}", settings.host.unwrap_or_default(), settings.port.unwrap_or_default()))}
            {row("TLS", settings.tls)}
            {row("From", settings.from.unwrap_or_default())}
            {row("User name", settings.username.unwrap_or_else(|| "none".into()))}
            {row("Password", if settings.password_set { "set (never shown)".into() } else { "none".into() })}
        </dl>
    }
    .into_any()
}
