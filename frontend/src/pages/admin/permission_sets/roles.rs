//! The RAM role a permission set becomes in each account it is assigned on: the table of
//! roles with their provisioning status, and provisioning one account or all.

use gatehouse_shared::directory::Account;
use gatehouse_shared::permission_sets::{ProvisionRequest, ProvisionedRole, ProvisioningStatus};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::badge::ProvisioningBadge;
use crate::components::form::FormState;
use crate::components::table::DataTable;
use crate::components::time::Timestamp;

/// An ARN that may wrap only after its `/` (`…:role/` | `GatehouseSSO-…`), never mid-word.
fn breakable(arn: &str) -> impl IntoView {
    arn.split_inclusive('/')
        .map(|part| view! { <span class="nowrap">{part.to_string()}</span><wbr /> })
        .collect_view()
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
    let busy = RwSignal::new(false);
    let pending = list
        .iter()
        .filter(|r| r.status != ProvisioningStatus::Provisioned)
        .count();
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
                    let role = roles
                        .first()
                        .map(|r| r.role_name.clone())
                        .unwrap_or_default();
                    let n = roles.len();
                    page.notice.set(Some(if n == 1 {
                        format!("Provisioned the role {role} in 1 account.")
                    } else {
                        format!("Provisioned the role {role} in {n} accounts.")
                    }));
                    reload();
                }
                Err(e) => page.error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let headers: &'static [&'static str] = if can_write.get_untracked() {
        &["Account", "Role name", "ARN", "Status", "Actions"]
    } else {
        &["Account", "Role name", "ARN", "Status"]
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
                (ProvisioningStatus::Provisioned, Some(v)) => Some(format!("version {v}")),
                _ => None,
            };
            let label = format!("Provision in account {}", r.account_id);
            let account_id = r.account_id.clone();
            let provision = provision.clone();
            view! {
                <tr>
                    <th scope="row">
                        {name}
                        <span class="hint block"><code>{r.account_id.clone()}</code></span>
                    </th>
                    <td class="nowrap"><code>{r.role_name}</code></td>
                    <td><code>{breakable(&r.arn)}</code></td>
                    <td>
                        <ProvisioningBadge status=r.status />
                        {version.map(|v| view! { <span class="hint block">{v}</span> })}
                        {r.provisioned_at.map(|at| view! {
                            <span class="hint block">"provisioned " <Timestamp at /></span>
                        })}
                    </td>
                    {can_write.get_untracked().then(|| {
                        if r.status == ProvisioningStatus::Provisioned {
                            view! { <td class="muted">"Up to date"</td> }.into_any()
                        } else {
                            let account_id = account_id.clone();
                            let provision = provision.clone();
                            view! {
                                <td class="row-actions">
                                    <button
                                        type="button"
                                        class="secondary small"
                                        aria-label=label.clone()
                                        disabled=move || busy.get()
                                        on:click=move |_| provision(Some(vec![account_id.clone()]))
                                    >
                                        "Provision"
                                    </button>
                                </td>
                            }
                            .into_any()
                        }
                    })}
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
                    {match pending {
                        0 => "Every role is up to date.".to_string(),
                        1 => "1 account needs provisioning.".to_string(),
                        n => format!("{n} accounts need provisioning."),
                    }}
                </span>
            </div>
        </Show>
        <DataTable caption="Roles in accounts" wide=true headers>
            {rows}
        </DataTable>
    }
    .into_any()
}
