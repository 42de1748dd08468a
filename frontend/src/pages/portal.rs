//! The access portal, where every signed-in person starts: the accounts they may use (each
//! with its provider) and, in each, their permission sets. For each one: open the console (a link, or for an
//! Alibaba Cloud account a SAML sign-in posted in a new tab), get short-lived STS
//! credentials (in the forms tools read, with copy buttons and a live expiry countdown), or
//! create a `credentials_uri` for tools that fetch their own; and the list of one's own
//! `credentials_uri`s, each revocable.

use std::time::Duration;

use gatehouse_shared::auth::Role;
use gatehouse_shared::cloud::Provider;
use gatehouse_shared::permission_sets::ProvisioningStatus;
use gatehouse_shared::portal::{
    CreateCredentialUri, CredentialUri, IssueCredentials, IssuedCredentials, PortalAccount,
    PortalPermissionSet,
};
use gatehouse_shared::text::{countdown_text, duration_text};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::components::alert::{ErrorAlert, Notice};
use crate::components::badge::{Badge, Tone};
use crate::components::console::ConsoleButton;
use crate::components::copy::CopyBlock;
use crate::components::loaded::{Empty, Loaded};
use crate::components::set_page_title;
use crate::components::table::DataTable;
use crate::components::time::{epoch_ms, Timestamp};
use crate::pages::demo::DemoGuideCard;
use crate::session::use_session;

/// How many accounts make the filter box worth showing.
const FILTER_FROM: usize = 4;

#[component]
pub fn PortalPage() -> impl IntoView {
    set_page_title("Access portal");
    let portal = LocalResource::new(api::portal);
    let uris = LocalResource::new(api::credential_uris);
    let uris_changed = move || uris.refetch();
    let session = use_session();
    let admin = move || session.has_role(Role::Administrator);
    view! {
        <section class="page">
            <h1>"Access portal"</h1>
            <Show when=admin>
                <DemoGuideCard />
            </Show>
            <Loaded data=move || portal.get().map(|result| result.map(|p| p.accounts)) loading="Loading your accounts…" let:accounts
                empty=Empty::list(|| view! { <NothingAssigned /> })>
                <p class="lead">
                    "Your cloud accounts and what you may do in each. Open the console, or get short-lived credentials for the command line and SDKs."
                </p>
                <Accounts accounts=accounts.clone() uris_changed />
                <CredentialUris uris accounts />
            </Loaded>
        </section>
    }
}

/// The empty portal: who grants access, and how to ask.
#[component]
fn NothingAssigned() -> impl IntoView {
    let session = use_session();
    let admin = move || session.has_role(Role::Administrator);
    view! {
        <section class="card empty-state" aria-labelledby="empty-heading">
            <h2 id="empty-heading">"No accounts are assigned to you yet"</h2>
            <p>
                "Access to a cloud account is granted by a Gatehouse administrator, who assigns a permission set to you, or to a group you belong to, on that account."
            </p>
            <p>
                "Ask your Gatehouse administrator for the access you need: say which account, and what you need to do there. Once it is assigned and provisioned it appears here."
            </p>
            <Show when=admin>
                <p>
                    "You are an administrator: you can assign access yourself under "
                    <a href="/admin/permission-sets" rel="external">"Permission sets"</a>"."
                </p>
            </Show>
        </section>
    }
}

#[component]
fn Accounts(
    accounts: Vec<PortalAccount>,
    uris_changed: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let count = accounts.len();
    let cards = accounts
        .into_iter()
        .map(|account| {
            let haystack = format!(
                "{} {} {} {}",
                account.name,
                account.account_id,
                account.environment,
                account
                    .permission_sets
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
            .to_lowercase();
            let visible =
                move || filter.with(|f| haystack.contains(f.trim().to_lowercase().as_str()));
            view! {
                <div hidden=move || !visible()>
                    <AccountCard account uris_changed />
                </div>
            }
        })
        .collect_view();
    view! {
        {(count >= FILTER_FROM).then(|| view! {
            <div class="field portal-filter">
                <label for="portal-filter">"Filter accounts"</label>
                <input
                    id="portal-filter"
                    type="search"
                    autocomplete="off"
                    placeholder="Account name, ID, environment or permission set"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
            </div>
        })}
        <div class="accounts">{cards}</div>
    }
}

#[component]
fn AccountCard(
    account: PortalAccount,
    uris_changed: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let heading_id = format!("account-{}", account.account_id);
    let labelled_by = heading_id.clone();
    let n = account.permission_sets.len();
    let count = if n == 1 {
        "1 permission set".to_string()
    } else {
        format!("{n} permission sets")
    };
    let tone = if account.environment == "production" {
        Tone::Warn
    } else {
        Tone::Neutral
    };
    let account_name = account.name.clone();
    let account_id = account.account_id.clone();
    let provider = account.provider;
    view! {
        <section class="card account-card" aria-labelledby=labelled_by>
            <div class="account-head">
                <h2 id=heading_id>{account.name}</h2>
                <code class="muted">{account.account_id}</code>
                // Which cloud: the same name and permission set mean a RAM role, an IAM
                // role or a Gatehouse token, and the credentials' forms follow.
                <span class="badge" title="Cloud provider">{provider.label()}</span>
                <Badge tone text=account.environment />
                <span class="hint account-count">{count}</span>
            </div>
            <ul class="access-list">
                {account
                    .permission_sets
                    .into_iter()
                    .map(|ps| view! {
                        <Access account_id=account_id.clone() account_name=account_name.clone() provider ps uris_changed />
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

/// One permission set in one account: what it is, and the ways to use it.
#[component]
fn Access(
    account_id: String,
    account_name: String,
    provider: Provider,
    ps: PortalPermissionSet,
    uris_changed: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let available = ps.status != ProvisioningStatus::NotProvisioned;
    let creds = RwSignal::new(None::<api::Issued>);
    let uri = RwSignal::new(None::<CredentialUri>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let group_label = format!("{} in {account_name}", ps.name);

    let get_credentials = {
        let account_id = account_id.clone();
        let permission_set_id = ps.permission_set_id.clone();
        move || {
            if busy.get_untracked() {
                return;
            }
            busy.set(true);
            error.set(None);
            let request = IssueCredentials {
                account_id: account_id.clone(),
                permission_set_id: permission_set_id.clone(),
                ..IssueCredentials::default()
            };
            spawn_local(async move {
                match api::issue_credentials(&request).await {
                    Ok(c) => creds.set(Some(c)),
                    Err(e) => error.set(Some(e.message)),
                }
                busy.set(false);
            });
        }
    };
    let create_uri = {
        let account_id = account_id.clone();
        let permission_set_id = ps.permission_set_id.clone();
        move |_| {
            if busy.get_untracked() {
                return;
            }
            busy.set(true);
            error.set(None);
            let request = CreateCredentialUri {
                account_id: account_id.clone(),
                permission_set_id: permission_set_id.clone(),
                ..CreateCredentialUri::default()
            };
            spawn_local(async move {
                match api::create_credential_uri(&request).await {
                    Ok(created) => {
                        uri.set(Some(created));
                        uris_changed();
                    }
                    Err(e) => error.set(Some(e.message)),
                }
                busy.set(false);
            });
        }
    };
    let console_label = format!(
        "Open the console as {} in {account_name} (new tab)",
        ps.name
    );
    let reason = format!(
        "Not available yet: the role {} has not been provisioned in this account. Ask a Gatehouse administrator to provision it.",
        ps.role_name
    );
    let actions = if available {
        let get = get_credentials.clone();
        view! {
            <div class="access-actions">
                <ConsoleButton
                    account_id=account_id.clone()
                    permission_set_id=ps.permission_set_id.clone()
                    provider
                    console_url=ps.console_url.clone()
                    label=console_label
                    error
                />
                <button type="button" class="secondary" disabled=move || busy.get() on:click=move |_| get()>
                    "Get credentials"
                </button>
                <button type="button" class="secondary" disabled=move || busy.get() on:click=create_uri>
                    "Create credentials URI"
                </button>
            </div>
        }
        .into_any()
    } else {
        view! {
            <div class="access-actions">
                <Badge tone=Tone::Neutral text="unavailable" />
            </div>
        }
        .into_any()
    };
    let role_line = format!(
        "Role {} · sessions up to {}",
        ps.role_name,
        duration_text(ps.session_duration_secs)
    );
    let who = format!("{} in {account_name}", ps.name);
    view! {
        <li class="access" class:unavailable=!available role="group" aria-label=group_label>
            <div class="access-row">
                <div class="access-info">
                    <p class="access-name">{ps.name.clone()}</p>
                    {(!ps.description.is_empty()).then(|| view! { <p class="access-description">{ps.description.clone()}</p> })}
                    <p class="hint">{role_line}</p>
                    {ps.grant_ends_at.map(|ends| view! { <GrantCountdown ends /> })}
                    {(!available).then(|| view! { <p class="access-reason">{reason}</p> })}
                    {status_note(ps.status).map(|note| view! { <p class="hint">{note}</p> })}
                </div>
                {actions}
            </div>
            <ErrorAlert error=error />
            {move || creds.get().map(|c| {
                let renew = get_credentials.clone();
                view! {
                    <CredentialsPanel
                        creds=c.credentials
                        skew_ms=c.clock_skew_ms
                        who=who.clone()
                        on_renew=move || renew()
                        on_close=move || creds.set(None)
                    />
                }
            })}
            {move || uri.get().map(|u| view! { <UriPanel uri=u provider on_close=move || uri.set(None) /> })}
        </li>
    }
}

/// What a person should know about a role that exists but is not quite as its permission
/// set says.
fn status_note(status: ProvisioningStatus) -> Option<&'static str> {
    match status {
        ProvisioningStatus::NeedsReprovisioning => Some(
            "This permission set has changed and awaits re-provisioning; until then you get its previous version.",
        ),
        ProvisioningStatus::Provisioning => Some(
            "This role is being provisioned in the account right now. If the console or credentials fail, try again in a minute.",
        ),
        ProvisioningStatus::Failed => Some(
            "The last change to this role did not reach the account; an administrator can see why. Until it is fixed, access may not work as the permission set says.",
        ),
        ProvisioningStatus::Drifted => Some(
            "This role was changed in the account outside Gatehouse; an administrator can put it back. Until then it may allow more or less than the permission set says.",
        ),
        ProvisioningStatus::Provisioned | ProvisioningStatus::NotProvisioned => None,
    }
}

/// Issued credentials in every form, with copy buttons that stop working once they expire.
#[component]
fn CredentialsPanel(
    creds: IssuedCredentials,
    /// Server time minus browser time: the countdown follows the server's clock, which
    /// decides when the credentials stop working.
    skew_ms: f64,
    who: String,
    on_renew: impl Fn() + Send + Sync + 'static,
    on_close: impl Fn() + Send + Sync + 'static,
) -> impl IntoView {
    let now = RwSignal::new(js_sys::Date::now());
    if let Ok(handle) = set_interval_with_handle(
        move || now.set(js_sys::Date::now()),
        Duration::from_millis(1000),
    ) {
        on_cleanup(move || handle.clear());
    }
    let expires = epoch_ms(creds.expiration);
    let remaining = move || expires - (now.get() + skew_ms);
    let expired = Memo::new(move |_| remaining() <= 0.0);
    let soon = move || remaining() < 5.0 * 60_000.0;
    let key = creds.access_key_id.clone();
    let ids = |name: &str| format!("{key}-{name}");
    let f = creds.formats;
    // Credentials for an AWS account come with its CLI and its variable names.
    let aws = f.aws_cli.is_some();
    let cli_hint = "Run it once: it saves an StsToken profile for the Alibaba Cloud CLI.";
    view! {
        <section class="panel credentials" aria-label=format!("Credentials for {who}")>
            <div class="panel-head">
                <div>
                    <h3>"Temporary credentials"</h3>
                    <p class="hint">
                        "For " <code class="break">{creds.assumed_role_arn}</code> ". They stop working at "
                        <Timestamp at=creds.expiration /> "."
                    </p>
                </div>
                {move || {
                    if expired.get() {
                        view! { <p class="countdown expired">"Expired"</p> }.into_any()
                    } else {
                        view! {
                            <p class="countdown" class:soon=soon role="timer" aria-live="off">
                                {move || format!("Expires in {}", countdown_text(remaining()))}
                            </p>
                        }
                        .into_any()
                    }
                }}
            </div>
            <Show when=move || expired.get()>
                <div class="alert alert-warn" role="alert">
                    "These credentials have expired and no longer work. Get new ones."
                </div>
            </Show>
            <CopyBlock id=ids("shell") label="Shell (export lines)" text=f.shell disabled=expired hint="For bash or zsh: paste into the terminal where you run the CLI or an SDK." />
            {match f.aws_cli {
                // An AWS account: its CLI, and AWS's names for the three values.
                Some(aws_cli) => view! {
                    <CopyBlock id=ids("cli") label="AWS CLI" text=aws_cli disabled=expired hint="A profile that fetches fresh credentials through a credentials URL, and the commands that store these ones." />
                }.into_any(),
                None => view! {
                    <CopyBlock id=ids("cli") label="Alibaba Cloud CLI" text=f.aliyun_cli disabled=expired hint=cli_hint />
                }.into_any(),
            }}
            <CopyBlock id=ids("process") label="credential_process JSON" text=f.credential_process disabled=expired hint="What a credential_process command prints." />
            <div class="keys">
                <CopyBlock id=ids("akid") label=if aws { "AWS_ACCESS_KEY_ID" } else { "AccessKeyId" } text=creds.access_key_id.clone() inline=true disabled=expired />
                <CopyBlock id=ids("secret") label=if aws { "AWS_SECRET_ACCESS_KEY" } else { "AccessKeySecret" } text=creds.access_key_secret inline=true disabled=expired />
                <CopyBlock id=ids("token") label=if aws { "AWS_SESSION_TOKEN" } else { "SecurityToken" } text=creds.security_token inline=true disabled=expired />
            </div>
            <div class="actions">
                <button type="button" on:click=move |_| on_renew()>"Get new credentials"</button>
                <button type="button" class="secondary" on:click=move |_| on_close()>"Close"</button>
            </div>
        </section>
    }
}

/// A newly created `credentials_uri`: its URL is shown this once.
#[component]
fn UriPanel(
    uri: CredentialUri,
    provider: Provider,
    on_close: impl Fn() + Send + Sync + 'static,
) -> impl IntoView {
    let url = uri.url.clone().unwrap_or_default();
    let process = format!("credential_process = gatehouse credentials --uri {url}");
    // The variable the account's SDKs read: an AWS account's URL answers AWS's
    // container-credentials JSON, the others Alibaba Cloud's credentials_uri JSON.
    let (env, env_hint) = if provider == Provider::Aws {
        (
            format!("AWS_CONTAINER_CREDENTIALS_FULL_URI={url}"),
            "AWS SDKs and the AWS CLI fetch credentials from this URL when the variable is set.",
        )
    } else {
        (
            format!("ALIBABA_CLOUD_CREDENTIALS_URI={url}"),
            "Alibaba Cloud SDKs read credentials from this URL when the variable is set.",
        )
    };
    view! {
        <section class="panel" aria-label=format!("credentials URI for {}", uri.permission_set_name)>
            <div class="panel-head">
                <div>
                    <h3>"Credentials URI created"</h3>
                    <p class="hint">"Works until " <Timestamp at=uri.expires_at /> "."</p>
                </div>
            </div>
            <div class="alert alert-warn" role="alert">
                "Copy the URL now: it is shown only this once. Anyone who has it can get credentials for this role until it expires, so keep it like a password; revoke it below if it leaks."
            </div>
            <CopyBlock id=format!("uri-{}", uri.id) label="credentials URI" text=url inline=true />
            <CopyBlock id=format!("uri-{}-process", uri.id) label="credential_process line" text=process hint="For a profile in a tool that runs a credential_process command." />
            <CopyBlock id=format!("uri-{}-env", uri.id) label="Environment variable" text=env hint=env_hint />
            <div class="actions">
                <button type="button" class="secondary" on:click=move |_| on_close()>"Done"</button>
            </div>
        </section>
    }
}

/// The person's own `credentials_uri`s, each revocable.
#[component]
fn CredentialUris(
    uris: LocalResource<Result<Vec<CredentialUri>, ApiError>>,
    accounts: Vec<PortalAccount>,
) -> impl IntoView {
    let notice = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let accounts = StoredValue::new(accounts);
    view! {
        <section class="card" aria-labelledby="uris-heading">
            <h2 id="uris-heading">"Your credentials URIs"</h2>
            <p class="hint">"URLs that tools fetch credentials from. Revoke any you no longer use."</p>
            <Notice message=notice />
            <ErrorAlert error=error />
            <Loaded data=move || uris.get() loading="Loading…" let:list
                empty=Empty::list(|| view! { <p>"You have no credentials URIs."</p> })>
                <DataTable caption="Your credentials URIs" wide=true headers=&["Permission set", "Account", "Created", "Expires", "Last used", "Actions"]>
                    {list
                        .into_iter()
                        .map(|u| {
                            let account = accounts.with_value(|a| {
                                a.iter()
                                    .find(|a| a.account_id == u.account_id)
                                    .map_or_else(|| u.account_id.clone(), |a| format!("{} ({})", a.name, a.account_id))
                            });
                            view! { <UriRow u account uris notice error /> }
                        })
                        .collect_view()}
                </DataTable>
            </Loaded>
        </section>
    }
}

#[component]
fn UriRow(
    u: CredentialUri,
    account: String,
    uris: LocalResource<Result<Vec<CredentialUri>, ApiError>>,
    notice: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let expired = epoch_ms(u.expires_at) <= js_sys::Date::now();
    let what = format!("{} on {}", u.permission_set_name, u.account_id);
    let revoke = {
        let id = u.id.clone();
        let what = what.clone();
        move |_| {
            if busy.get_untracked() {
                return;
            }
            busy.set(true);
            notice.set(None);
            error.set(None);
            let id = id.clone();
            let what = what.clone();
            spawn_local(async move {
                match api::revoke_credential_uri(&id).await {
                    Ok(()) => {
                        notice.set(Some(format!("Revoked the credentials URI for {what}.")));
                        uris.refetch();
                    }
                    Err(e) => {
                        confirming.set(false);
                        error.set(Some(e.message));
                    }
                }
                busy.set(false);
            });
        }
    };
    let revoke_label = format!("Revoke credentials URI for {what}");
    let confirm_label = format!("Yes, revoke credentials URI for {what}");
    view! {
        <tr>
            <th scope="row">{u.permission_set_name}</th>
            <td>{account}</td>
            <td class="nowrap"><Timestamp at=u.created_at /></td>
            <td class="nowrap">
                <Timestamp at=u.expires_at />
                {expired.then(|| view! { " " <Badge tone=Tone::Bad text="expired" /> })}
            </td>
            <td class="nowrap">
                {u.last_used_at.map_or_else(
                    || view! { <span class="muted">"never"</span> }.into_any(),
                    |at| view! { <Timestamp at /> }.into_any(),
                )}
            </td>
            <td class="row-actions">
                {move || {
                    if confirming.get() {
                        view! {
                            <span class="confirm">
                                "Revoke it?"
                                <button type="button" class="danger small" aria-label=confirm_label.clone() disabled=move || busy.get() on:click=revoke.clone()>
                                    "Revoke"
                                </button>
                                <button type="button" class="secondary small" on:click=move |_| confirming.set(false)>
                                    "Cancel"
                                </button>
                            </span>
                        }
                        .into_any()
                    } else {
                        view! {
                            <button type="button" class="danger small" aria-label=revoke_label.clone() on:click=move |_| confirming.set(true)>
                                "Revoke"
                            </button>
                        }
                        .into_any()
                    }
                }}
            </td>
        </tr>
    }
}

/// A just-in-time grant's end, counting down: credentials never outlive it.
#[component]
fn GrantCountdown(ends: time::OffsetDateTime) -> impl IntoView {
    let now = RwSignal::new(js_sys::Date::now());
    if let Ok(handle) = set_interval_with_handle(
        move || now.set(js_sys::Date::now()),
        Duration::from_millis(1000),
    ) {
        on_cleanup(move || handle.clear());
    }
    let end_ms = epoch_ms(ends);
    view! {
        <p class="grant-countdown">
            <Badge tone=Tone::Warn text="Temporary grant" />
            " ends in "
            <span role="timer" aria-label="Grant ends in">{move || countdown_text(end_ms - now.get())}</span>
        </p>
    }
}
