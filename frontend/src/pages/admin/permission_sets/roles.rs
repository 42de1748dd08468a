//! The RAM role a permission set becomes in each account it is assigned on: the table of
//! roles with their provider and provisioning status (what the cloud answered when it
//! failed, how the cloud's role drifted), and provisioning one account or all. While a
//! cloud is still working on a role the table refreshes itself until it is done.

use std::time::Duration;

use gatehouse_shared::cloud::CloudFault;
use gatehouse_shared::directory::Account;
use gatehouse_shared::permission_sets::{ProvisionRequest, ProvisionedRole, ProvisioningStatus};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::badge::ProvisioningBadge;
use crate::components::copy::CopyButton;
use crate::components::form::FormState;
use crate::components::table::DataTable;
use crate::components::time::Timestamp;

/// How often the table asks again while a role is being provisioned.
const REFRESH: Duration = Duration::from_secs(3);

/// An ARN that may wrap only after its `/` (`…:role/` | `GatehouseSSO-…`), never mid-word.
fn breakable(arn: &str) -> impl IntoView {
    arn.split_inclusive('/')
        .map(|part| view! { <span class="nowrap">{part.to_string()}</span><wbr /> })
        .collect_view()
}

/// Whether an administrator has something to do for a role in this state.
fn needs_provisioning(status: ProvisioningStatus) -> bool {
    match status {
        ProvisioningStatus::NotProvisioned
        | ProvisioningStatus::NeedsReprovisioning
        | ProvisioningStatus::Failed
        | ProvisioningStatus::Drifted => true,
        ProvisioningStatus::Provisioned | ProvisioningStatus::Provisioning => false,
    }
}

/// The button of a role's row: its text, and its accessible name's start (the row's
/// account follows).
fn provision_button(status: ProvisioningStatus) -> Option<(&'static str, &'static str)> {
    match status {
        ProvisioningStatus::NotProvisioned => Some(("Provision", "Provision in account")),
        ProvisioningStatus::NeedsReprovisioning | ProvisioningStatus::Drifted => {
            Some(("Re-provision", "Re-provision in account"))
        }
        ProvisioningStatus::Failed => Some(("Retry", "Retry provisioning in account")),
        ProvisioningStatus::Provisioned | ProvisioningStatus::Provisioning => None,
    }
}

/// "1 account" / "3 accounts".
fn accounts_text(n: usize) -> String {
    if n == 1 {
        "1 account".to_string()
    } else {
        format!("{n} accounts")
    }
}

/// What a provisioning call did, as a notice and, when some failed, an error.
fn outcome(roles: &[ProvisionedRole]) -> (Option<String>, Option<String>) {
    let Some(role) = roles.first().map(|r| r.role_name.as_str()) else {
        return (Some("There was nothing to provision.".into()), None);
    };
    let count = |status: ProvisioningStatus| roles.iter().filter(|r| r.status == status).count();
    let (done, running, failed) = (
        count(ProvisioningStatus::Provisioned),
        count(ProvisioningStatus::Provisioning),
        count(ProvisioningStatus::Failed),
    );
    let mut notice = Vec::new();
    if done > 0 {
        notice.push(format!(
            "Provisioned the role {role} in {}.",
            accounts_text(done)
        ));
    }
    if running > 0 {
        notice.push(format!(
            "Provisioning the role {role} in {}: the table below shows when it is done.",
            accounts_text(running)
        ));
    }
    let error = (failed > 0).then(|| {
        format!(
            "Provisioning the role {role} failed in {}: its row below says what the cloud answered.",
            accounts_text(failed)
        )
    });
    ((!notice.is_empty()).then(|| notice.join(" ")), error)
}

/// The first line of a fault: which call failed and the cloud's code.
fn fault_headline(fault: &CloudFault) -> String {
    match &fault.action {
        Some(action) => format!("{action} failed: {}", fault.code),
        None => fault.code.clone(),
    }
}

/// What the cloud answered when the role's last attempt failed.
#[component]
fn Fault(fault: CloudFault, account_id: String) -> impl IntoView {
    let copy_label = format!("Copy the RequestId for account {account_id}");
    view! {
        <div class="policy-fault" role="group" aria-label=format!("What the cloud answered for account {account_id}")>
            <p><strong>{fault_headline(&fault)}</strong></p>
            <p>{fault.message}</p>
            {fault.request_id.map(|id| view! {
                <p class="hint">
                    "RequestId " <code class="break">{id.clone()}</code> " "
                    <CopyButton text=id label=copy_label />
                </p>
            })}
        </div>
    }
}

/// How the role in the cloud differs from what Gatehouse provisioned.
#[component]
fn Drift(lines: Vec<String>) -> impl IntoView {
    view! {
        <div class="alert alert-warn">
            <p>"Changed in the cloud outside Gatehouse:"</p>
            <ul>
                {lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
            </ul>
            <p>"Re-provisioning puts back what the permission set says."</p>
        </div>
    }
}

#[component]
#[expect(
    clippy::needless_pass_by_value,
    reason = "a component owns its props; this one only reads them"
)]
pub(super) fn Roles(
    permission_set_id: String,
    list: Vec<ProvisionedRole>,
    accounts: Vec<Account>,
    can_write: Memo<bool>,
    page: FormState,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    if list.is_empty() {
        return view! {
            <p>"Not assigned on any account yet, so there is no role to provision. Add an assignment above."</p>
        }
        .into_any();
    }
    let running = list
        .iter()
        .filter(|r| r.status == ProvisioningStatus::Provisioning)
        .count();
    if running > 0 {
        // Each load of the list makes a new table: it asks again while a role is still
        // being provisioned, and stops once none is.
        if let Ok(handle) = set_timeout_with_handle(reload, REFRESH) {
            on_cleanup(move || handle.clear());
        }
    }
    let busy = RwSignal::new(false);
    let pending = list.iter().filter(|r| needs_provisioning(r.status)).count();
    let provision = move |account_ids: Option<Vec<String>>| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        page.error.set(None);
        page.notice.set(None);
        let id = permission_set_id.clone();
        spawn_local(async move {
            let request = ProvisionRequest { account_ids };
            match api::provision(&id, &request).await {
                Ok(roles) => {
                    let (notice, error) = outcome(&roles);
                    page.notice.set(notice);
                    page.error.set(error);
                }
                Err(e) => page.error.set(Some(e.message)),
            }
            // Also after a failure: the rows say what the cloud answered.
            reload();
            busy.set(false);
        });
    };
    let headers: &'static [&'static str] = if can_write.get_untracked() {
        &[
            "Account",
            "Provider",
            "Role name",
            "ARN",
            "Status",
            "Actions",
        ]
    } else {
        &["Account", "Provider", "Role name", "ARN", "Status"]
    };
    let rows = list
        .into_iter()
        .map(|r| {
            let name = accounts
                .iter()
                .find(|a| a.id == r.account_id)
                .map(|a| a.name.clone());
            let version = match (r.status, r.provisioned_version) {
                (ProvisioningStatus::NeedsReprovisioning, Some(v)) => {
                    Some(format!("at version {v}, now {}", r.current_version))
                }
                (ProvisioningStatus::Provisioned | ProvisioningStatus::Drifted, Some(v)) => {
                    Some(format!("version {v}"))
                }
                (ProvisioningStatus::Provisioning, _) => {
                    Some(format!("to version {}", r.current_version))
                }
                _ => None,
            };
            let fault = (r.status == ProvisioningStatus::Failed)
                .then_some(r.fault)
                .flatten();
            let drift =
                (r.status == ProvisioningStatus::Drifted && !r.drift.is_empty()).then_some(r.drift);
            let account_id = r.account_id.clone();
            let action = can_write
                .get_untracked()
                .then(|| match provision_button(r.status) {
                    Some((text, label)) => {
                        let label = format!("{label} {account_id}");
                        let account_id = account_id.clone();
                        let provision = provision.clone();
                        view! {
                            <td class="row-actions">
                                <button
                                    type="button"
                                    class="secondary small"
                                    aria-label=label
                                    disabled=move || busy.get()
                                    on:click=move |_| provision(Some(vec![account_id.clone()]))
                                >
                                    {text}
                                </button>
                            </td>
                        }
                        .into_any()
                    }
                    None if r.status == ProvisioningStatus::Provisioning => {
                        view! { <td class="muted">"In progress"</td> }.into_any()
                    }
                    None => view! { <td class="muted">"Up to date"</td> }.into_any(),
                });
            view! {
                <tr>
                    <th scope="row">
                        {name}
                        <span class="hint block"><code>{r.account_id.clone()}</code></span>
                    </th>
                    <td>{r.provider.label()}</td>
                    <td class="nowrap"><code>{r.role_name}</code></td>
                    <td><code>{breakable(&r.arn)}</code></td>
                    <td>
                        <ProvisioningBadge status=r.status />
                        {version.map(|v| view! { <span class="hint block">{v}</span> })}
                        {r.provisioned_at.map(|at| view! {
                            <span class="hint block">"provisioned " <Timestamp at /></span>
                        })}
                        {fault.map(|fault| view! { <Fault fault account_id=account_id.clone() /> })}
                        {drift.map(|lines| view! { <Drift lines /> })}
                    </td>
                    {action}
                </tr>
            }
        })
        .collect_view();
    view! {
        <Show when=move || can_write.get()>
            <div class="actions provision-bar">
                <button
                    type="button"
                    disabled=move || busy.get() || pending == 0
                    on:click={
                        let provision = provision.clone();
                        move |_| provision(None)
                    }
                >
                    {move || if busy.get() { "Provisioning…" } else { "Provision all accounts" }}
                </button>
                <span class="hint">
                    {match (pending, running) {
                        (0, 0) => "Every role is up to date.".to_string(),
                        (0, _) => "Nothing else needs provisioning.".to_string(),
                        (1, _) => "1 account needs provisioning.".to_string(),
                        (n, _) => format!("{n} accounts need provisioning."),
                    }}
                </span>
            </div>
        </Show>
        {(running > 0).then(|| view! {
            <p class="hint" role="status">
                {format!(
                    "{} being provisioned; this table refreshes every few seconds until it is done.",
                    if running == 1 { "1 role is".to_string() } else { format!("{running} roles are") }
                )}
            </p>
        })}
        <DataTable caption="Roles in accounts" wide=true headers>
            {rows}
        </DataTable>
    }
    .into_any()
}
