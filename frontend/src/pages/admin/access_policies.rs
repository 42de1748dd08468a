//! Access policies: eligibility (who may ask for which permission sets on which accounts,
//! for how long, with what asked of them) and approval (who must approve, how many, with
//! MFA, how long a request may wait). Administrators add, edit and delete them; auditors
//! read them. Where several match a request the strictest wins, as the page says.

use gatehouse_shared::auth::Role;
use gatehouse_shared::directory::{Account, Group, User};
use gatehouse_shared::error::FieldError;
use gatehouse_shared::permission_sets::PermissionSet;
use gatehouse_shared::requests::{
    check_approval_policy, check_eligibility_policy, ApprovalPolicy, ApprovalPolicyInput,
    EligibilityPolicy, EligibilityPolicyInput, PrincipalKind, ANY, DEFAULT_PENDING_LIFETIME_SECS,
};
use gatehouse_shared::text::{duration_text, minutes_to_secs};
use gatehouse_shared::validate::Faults;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::components::alert::{ErrorAlert, Notice, Warnings};
use crate::components::badge::{Badge, Tone};
use crate::components::confirm::ConfirmDelete;
use crate::components::field::{CheckboxField, SelectField, TextField};
use crate::components::form::FormState;
use crate::components::loaded::{Empty, Loaded};
use crate::components::set_page_title;
use crate::components::table::DataTable;
use crate::session::use_session;

/// What the policies name, loaded once so ids can be shown as names and offered as choices.
#[derive(Debug, Clone)]
struct Directory {
    users: Vec<User>,
    groups: Vec<Group>,
    accounts: Vec<Account>,
    sets: Vec<PermissionSet>,
}

impl Directory {
    async fn load() -> Result<Self, ApiError> {
        Ok(Self {
            users: api::users().await?,
            groups: api::groups().await?,
            accounts: api::accounts().await?,
            sets: api::permission_sets().await?,
        })
    }

    fn account(&self, id: &str) -> String {
        if id == ANY {
            return "Any account".into();
        }
        self.accounts
            .iter()
            .find(|a| a.id == id)
            .map_or_else(|| id.to_string(), |a| format!("{} ({})", a.name, a.id))
    }

    fn set(&self, id: &str) -> String {
        if id == ANY {
            return "Any permission set".into();
        }
        self.sets
            .iter()
            .find(|s| s.id == id)
            .map_or_else(|| id.to_string(), |s| s.name.clone())
    }

    fn user(&self, id: &str) -> String {
        self.users
            .iter()
            .find(|u| u.id == id)
            .map_or_else(|| id.to_string(), |u| u.username.clone())
    }

    fn group(&self, id: &str) -> String {
        self.groups
            .iter()
            .find(|g| g.id == id)
            .map_or_else(|| id.to_string(), |g| g.name.clone())
    }

    fn account_choices(&self) -> Vec<(String, String)> {
        self.accounts
            .iter()
            .map(|a| (a.id.clone(), format!("{} ({})", a.name, a.id)))
            .collect()
    }

    fn set_choices(&self) -> Vec<(String, String)> {
        self.sets
            .iter()
            .map(|s| (s.id.clone(), s.name.clone()))
            .collect()
    }

    fn user_choices(&self) -> Vec<(String, String)> {
        self.users
            .iter()
            .filter(|u| !u.disabled)
            .map(|u| (u.id.clone(), u.username.clone()))
            .collect()
    }

    fn group_choices(&self) -> Vec<(String, String)> {
        self.groups
            .iter()
            .map(|g| (g.id.clone(), g.name.clone()))
            .collect()
    }
}

#[component]
pub fn AccessPoliciesPage() -> impl IntoView {
    set_page_title("Access policies");
    let session = use_session();
    let can_write = Memo::new(move |_| session.has_role(Role::Administrator));
    let directory = LocalResource::new(Directory::load);
    view! {
        <section class="page">
            <h1>"Access policies"</h1>
            <p class="muted">
                "Eligibility policies say who may ask for which permission sets on which accounts, and for how long. "
                "Approval policies say who must approve such a request. Where several policies match, the strictest wins: "
                "the shortest maximum duration; approval, justification and ticket required if any policy asks; "
                "the most approvals, MFA if any policy asks, and the approvers of the strictest approval policy."
            </p>
            <Loaded data=move || directory.get() loading="Loading the directory…" let:dir>
                <Policies dir can_write />
            </Loaded>
        </section>
    }
}

#[component]
fn Policies(dir: Directory, can_write: Memo<bool>) -> impl IntoView {
    let eligibility = LocalResource::new(api::eligibility_policies);
    let approval = LocalResource::new(api::approval_policies);
    let page = FormState::new();
    let editing_eligibility: RwSignal<Option<EligibilityPolicy>> = RwSignal::new(None);
    let editing_approval: RwSignal<Option<ApprovalPolicy>> = RwSignal::new(None);
    let dir = StoredValue::new(dir);
    let eligibility_saved = move |message: String| {
        page.notice.set(Some(message));
        editing_eligibility.set(None);
        eligibility.refetch();
    };
    let approval_saved = move |message: String| {
        page.notice.set(Some(message));
        editing_approval.set(None);
        approval.refetch();
    };
    view! {
        <ErrorAlert error=page.error />
        <Notice message=page.notice />
        <PolicyCard kind="eligibility" title="Eligibility policies" data=move || eligibility.get() loading="Loading eligibility policies…"
            none="No eligibility policies yet: nobody can ask for temporary access. Add one below for a user or a group."
            headers=&["Name", "Who", "Accounts", "Permission sets", "At most", "Asks for", "Actions"]
            row=move |p| view! { <EligibilityRow p dir can_write page editing=editing_eligibility on_deleted=move || eligibility.refetch() /> } />
        <Show when=move || can_write.get()>
            {move || {
                let current = editing_eligibility.get();
                let on_cancel = move || editing_eligibility.set(None);
                view! { <EligibilityForm dir editing=current on_saved=eligibility_saved on_cancel /> }
            }}
        </Show>
        <PolicyCard kind="approval" title="Approval policies" data=move || approval.get() loading="Loading approval policies…"
            none="No approval policies yet: a request that needs approval is refused until one names its approvers. Add one below."
            headers=&["Name", "Account", "Permission set", "Approvers", "Needs", "MFA", "May wait", "Actions"]
            row=move |p| view! { <ApprovalRow p dir can_write page editing=editing_approval on_deleted=move || approval.refetch() /> } />
        <Show when=move || can_write.get()>
            {move || {
                let current = editing_approval.get();
                let on_cancel = move || editing_approval.set(None);
                view! { <ApprovalForm dir editing=current on_saved=approval_saved on_cancel /> }
            }}
        </Show>
    }
}

/// A card with one kind of policy: its heading, and its table or, while there is none, what
/// that means.
#[component]
fn PolicyCard<P, D, R, V>(
    /// `eligibility` or `approval`: names the heading's id.
    kind: &'static str,
    /// The card's heading and the table's caption.
    title: &'static str,
    /// Reads the policies: `None` while they load.
    data: D,
    loading: &'static str,
    /// What it means that there is no policy of this kind yet.
    none: &'static str,
    headers: &'static [&'static str],
    /// A policy's row.
    row: R,
) -> impl IntoView
where
    P: Send + 'static,
    D: Fn() -> Option<Result<Vec<P>, ApiError>> + Send + Sync + 'static,
    R: Fn(P) -> V + Copy + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let heading = format!("{kind}-heading");
    let labelled_by = heading.clone();
    view! {
        <section class="card" aria-labelledby=labelled_by>
            <h2 id=heading>{title}</h2>
            <Loaded data loading empty=Empty::list(move || view! { <p>{none}</p> }) let:list>
                <DataTable caption=title wide=true headers>
                    {list.into_iter().map(row).collect_view()}
                </DataTable>
            </Loaded>
        </section>
    }
}

fn names(ids: &[String], name: impl Fn(&str) -> String) -> String {
    ids.iter().map(|id| name(id)).collect::<Vec<_>>().join(", ")
}

#[component]
fn EligibilityRow(
    p: EligibilityPolicy,
    dir: StoredValue<Directory>,
    can_write: Memo<bool>,
    page: FormState,
    editing: RwSignal<Option<EligibilityPolicy>>,
    on_deleted: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let input = &p.input;
    let who = match input.principal_type {
        PrincipalKind::User => format!("user {}", p.principal_name),
        PrincipalKind::Group => format!("group {}", p.principal_name),
    };
    let accounts = dir.with_value(|d| names(&input.account_ids, |id| d.account(id)));
    let sets = dir.with_value(|d| names(&input.permission_set_ids, |id| d.set(id)));
    let mut asks = Vec::new();
    if input.approval_required {
        asks.push("approval");
    }
    if input.justification_required {
        asks.push("justification");
    }
    if input.ticket_required {
        asks.push("ticket");
    }
    let asks = if asks.is_empty() {
        view! { <Badge tone=Tone::Warn text="no approval" /> }.into_any()
    } else {
        asks.join(", ").into_any()
    };
    let name = input.name.clone();
    let id = p.id.clone();
    let delete = move || {
        let id = id.clone();
        async move { api::delete_eligibility_policy(&id).await }
    };
    let edit = {
        let p = p.clone();
        move |_| editing.set(Some(p.clone()))
    };
    view! {
        <tr>
            <th scope="row">{name.clone()}</th>
            <td>{who}</td>
            <td>{accounts}</td>
            <td>{sets}</td>
            <td>{duration_text(input.max_duration_secs)}</td>
            <td>{asks}</td>
            <td class="row-actions">
                <Show when=move || can_write.get() fallback=|| view! { <span class="muted">"Read only"</span> }>
                    <button type="button" class="secondary small" aria-label=format!("Edit {name}") on:click=edit.clone()>"Edit"</button>
                    <ConfirmDelete
                        name=name.clone()
                        question="Delete this eligibility policy?"
                        page
                        action=delete.clone()
                        done=move |n: String| {
                            page.succeed(Some(format!("Deleted {n}. Requests already made keep their limits.")));
                            on_deleted();
                        }
                    />
                </Show>
            </td>
        </tr>
        {(!p.warnings.is_empty()).then(|| view! {
            <tr class="row-warnings">
                <td colspan="7"><Warnings messages=p.warnings.clone() /></td>
            </tr>
        })}
    }
}

#[component]
fn ApprovalRow(
    p: ApprovalPolicy,
    dir: StoredValue<Directory>,
    can_write: Memo<bool>,
    page: FormState,
    editing: RwSignal<Option<ApprovalPolicy>>,
    on_deleted: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let input = &p.input;
    let (account, set, approvers) = dir.with_value(|d| {
        let mut approvers: Vec<String> = input
            .approver_group_ids
            .iter()
            .map(|g| format!("group {}", d.group(g)))
            .collect();
        approvers.extend(
            input
                .approver_user_ids
                .iter()
                .map(|u| format!("user {}", d.user(u))),
        );
        (
            d.account(&input.account_id),
            d.set(&input.permission_set_id),
            approvers.join(", "),
        )
    });
    let needs = format!(
        "{} approval(s); {} rejection(s) end it",
        input.approvals_needed, input.rejections_to_end
    );
    let mfa = if input.mfa_required {
        view! { <Badge tone=Tone::Good text="MFA required" /> }
    } else {
        view! { <Badge tone=Tone::Neutral text="no MFA check" /> }
    };
    let name = input.name.clone();
    let id = p.id.clone();
    let delete = move || {
        let id = id.clone();
        async move { api::delete_approval_policy(&id).await }
    };
    let edit = {
        let p = p.clone();
        move |_| editing.set(Some(p.clone()))
    };
    view! {
        <tr>
            <th scope="row">{name.clone()}</th>
            <td>{account}</td>
            <td>{set}</td>
            <td>{approvers}</td>
            <td>{needs}</td>
            <td>{mfa}</td>
            <td>{duration_text(input.pending_lifetime_secs)}</td>
            <td class="row-actions">
                <Show when=move || can_write.get() fallback=|| view! { <span class="muted">"Read only"</span> }>
                    <button type="button" class="secondary small" aria-label=format!("Edit {name}") on:click=edit.clone()>"Edit"</button>
                    <ConfirmDelete
                        name=name.clone()
                        question="Delete this approval policy?"
                        page
                        action=delete.clone()
                        done=move |n: String| {
                            page.succeed(Some(format!("Deleted {n}. Requests already made keep their approvers.")));
                            on_deleted();
                        }
                    />
                </Show>
            </td>
        </tr>
        {(!p.warnings.is_empty()).then(|| view! {
            <tr class="row-warnings">
                <td colspan="8"><Warnings messages=p.warnings.clone() /></td>
            </tr>
        })}
    }
}

/// A list of ticks over `choices`, with an "any" tick above that stands for `*`.
#[derive(Debug, Clone)]
struct Ticks {
    any: Option<RwSignal<bool>>,
    items: Vec<(String, String, RwSignal<bool>)>,
}

impl Ticks {
    fn new(choices: Vec<(String, String)>, chosen: &[String], with_any: bool) -> Self {
        let any = with_any.then(|| RwSignal::new(chosen.iter().any(|c| c == ANY)));
        let items = choices
            .into_iter()
            .map(|(id, label)| {
                let on = chosen.contains(&id);
                (id, label, RwSignal::new(on))
            })
            .collect();
        Self { any, items }
    }

    /// `["*"]` when "any" is ticked, else the ticked ids.
    fn chosen(&self) -> Vec<String> {
        if self.any.is_some_and(|a| a.get_untracked()) {
            return vec![ANY.to_string()];
        }
        self.items
            .iter()
            .filter(|(_, _, on)| on.get_untracked())
            .map(|(id, _, _)| id.clone())
            .collect()
    }
}

/// The ticks of one list as a fieldset with its fault under it.
#[component]
fn TickList(
    /// Prefix of each checkbox id.
    id: &'static str,
    legend: &'static str,
    #[prop(optional)] any_label: Option<&'static str>,
    ticks: Ticks,
    error: Signal<Option<String>>,
    /// Shown when there is nothing to tick.
    empty: &'static str,
) -> impl IntoView {
    let any = ticks.any;
    let nothing = ticks.items.is_empty();
    let items = ticks
        .items
        .into_iter()
        .map(|(item, label, checked)| {
            view! {
                <div class="check" class:muted=move || any.is_some_and(|a| a.get())>
                    <input
                        type="checkbox"
                        id=format!("{id}-{item}")
                        prop:checked=move || checked.get()
                        disabled=move || any.is_some_and(|a| a.get())
                        on:change=move |ev| checked.set(event_target_checked(&ev))
                    />
                    <label for=format!("{id}-{item}")>{label}</label>
                </div>
            }
        })
        .collect_view();
    view! {
        <fieldset class="event-types" aria-invalid=move || error.with(Option::is_some).then_some("true")>
            <legend>{legend}</legend>
            {any.zip(any_label).map(|(checked, label)| view! { <CheckboxField id=format!("{id}-any") label checked /> })}
            {nothing.then(|| view! { <p class="muted">{empty}</p> })}
            {items}
            {move || error.get().map(|m| view! { <p class="field-error">{m}</p> })}
        </fieldset>
    }
}

/// Sends a policy form whose shared-rule `faults` are empty: `save` answers the saved
/// policy's name, which `on_saved` announces as added or saved.
fn send_policy(
    form: FormState,
    faults: Vec<FieldError>,
    is_edit: bool,
    on_saved: impl Fn(String) + 'static,
    save: impl std::future::Future<Output = Result<String, ApiError>> + 'static,
) {
    let mut checked = Faults::new();
    for f in faults {
        checked.push(&f.field, f.message);
    }
    if !form.check(checked) {
        return;
    }
    spawn_local(async move {
        match save.await {
            Ok(name) => {
                form.succeed(None);
                let verb = if is_edit { "Saved" } else { "Added" };
                on_saved(format!("{verb} {name}."));
            }
            Err(e) => form.fail(e),
        }
    });
}

#[component]
fn EligibilityForm(
    dir: StoredValue<Directory>,
    editing: Option<EligibilityPolicy>,
    on_saved: impl Fn(String) + Copy + Send + Sync + 'static,
    on_cancel: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let edit_id = editing.as_ref().map(|p| p.id.clone());
    let is_edit = edit_id.is_some();
    let start = editing.map(|p| p.input);
    let name = RwSignal::new(start.as_ref().map(|p| p.name.clone()).unwrap_or_default());
    let kind = RwSignal::new(
        start
            .as_ref()
            .map_or(PrincipalKind::Group, |p| p.principal_type)
            .as_str()
            .to_string(),
    );
    let principal = RwSignal::new(
        start
            .as_ref()
            .map(|p| p.principal_id.clone())
            .unwrap_or_default(),
    );
    let (accounts, sets) = dir.with_value(|d| {
        let none = Vec::new();
        (
            Ticks::new(
                d.account_choices(),
                start.as_ref().map_or(&none, |p| &p.account_ids),
                true,
            ),
            Ticks::new(
                d.set_choices(),
                start.as_ref().map_or(&none, |p| &p.permission_set_ids),
                true,
            ),
        )
    });
    let minutes = RwSignal::new(
        start
            .as_ref()
            .map_or(60, |p| p.max_duration_secs / 60)
            .to_string(),
    );
    let approval = RwSignal::new(start.as_ref().is_none_or(|p| p.approval_required));
    let justification = RwSignal::new(start.as_ref().is_none_or(|p| p.justification_required));
    let ticket = RwSignal::new(start.as_ref().is_some_and(|p| p.ticket_required));
    let principals = Signal::derive(move || {
        let mut options = vec![(String::new(), "Choose…".to_string())];
        dir.with_value(|d| {
            options.extend(if kind.get() == "user" {
                d.user_choices()
            } else {
                d.group_choices()
            });
        });
        options
    });
    let form = FormState::new();
    let submit = {
        let (accounts, sets) = (accounts.clone(), sets.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            if !form.start() {
                return;
            }
            let input = EligibilityPolicyInput {
                name: name.get_untracked().trim().to_string(),
                principal_type: PrincipalKind::parse(&kind.get_untracked())
                    .unwrap_or(PrincipalKind::Group),
                principal_id: principal.get_untracked(),
                account_ids: accounts.chosen(),
                permission_set_ids: sets.chosen(),
                max_duration_secs: minutes_to_secs(&minutes.get_untracked()).unwrap_or(0),
                approval_required: approval.get_untracked(),
                justification_required: justification.get_untracked(),
                ticket_required: ticket.get_untracked(),
            };
            let faults = check_eligibility_policy(&input);
            let edit_id = edit_id.clone();
            send_policy(form, faults, is_edit, on_saved, async move {
                api::save_eligibility_policy(edit_id.as_deref(), &input)
                    .await
                    .map(|saved| saved.input.name)
            });
        }
    };
    let heading = if is_edit {
        "Edit eligibility policy"
    } else {
        "Add an eligibility policy"
    };
    let kinds = Signal::stored(vec![
        ("group".to_string(), "A group".to_string()),
        ("user".to_string(), "A user".to_string()),
    ]);
    view! {
        <section class="card" aria-labelledby="eligibility-form-heading">
            <h2 id="eligibility-form-heading">{heading}</h2>
            <ErrorAlert error=form.error />
            <form on:submit=submit novalidate class="grid-form">
                <TextField id="eligibility-name" label="Name" value=name autocomplete="off" maxlength=100 error=form.field_error("name") required=true />
                <SelectField id="eligibility-kind" label="Who may ask" value=kind options=kinds />
                <SelectField id="eligibility-principal" label="User or group" value=principal options=principals error=form.field_error("principal_id") />
                <TickList id="eligibility-account" legend="Accounts" any_label="Any account" ticks=accounts error=form.field_error("account_ids") empty="No accounts yet: add one under Accounts." />
                <TickList id="eligibility-set" legend="Permission sets" any_label="Any permission set" ticks=sets error=form.field_error("permission_set_ids") empty="No permission sets yet: add one under Permission sets." />
                <TextField
                    id="eligibility-minutes"
                    label="Maximum duration (minutes)"
                    value=minutes
                    kind="number"
                    inputmode="numeric"
                    hint="From 15 minutes to 7 days (10080 minutes)."
                    error=form.field_error("max_duration_secs")
                    required=true
                />
                <fieldset class="event-types">
                    <legend>"Asked of each request"</legend>
                    <CheckboxField id="eligibility-approval".to_string() label="Approval required" checked=approval hint="Off: the grant starts without anyone approving it." />
                    <CheckboxField id="eligibility-justification".to_string() label="Justification required" checked=justification />
                    <CheckboxField id="eligibility-ticket".to_string() label="Ticket number required" checked=ticket />
                </fieldset>
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>
                        {if is_edit { "Save eligibility policy" } else { "Add eligibility policy" }}
                    </button>
                    {is_edit.then(|| view! { <button type="button" class="secondary" on:click=move |_| on_cancel()>"Cancel"</button> })}
                </div>
            </form>
        </section>
    }
}

#[component]
fn ApprovalForm(
    dir: StoredValue<Directory>,
    editing: Option<ApprovalPolicy>,
    on_saved: impl Fn(String) + Copy + Send + Sync + 'static,
    on_cancel: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let edit_id = editing.as_ref().map(|p| p.id.clone());
    let is_edit = edit_id.is_some();
    let start = editing.map(|p| p.input);
    let name = RwSignal::new(start.as_ref().map(|p| p.name.clone()).unwrap_or_default());
    let account = RwSignal::new(
        start
            .as_ref()
            .map_or_else(|| ANY.to_string(), |p| p.account_id.clone()),
    );
    let set = RwSignal::new(
        start
            .as_ref()
            .map_or_else(|| ANY.to_string(), |p| p.permission_set_id.clone()),
    );
    let (groups, users, account_options, set_options) = dir.with_value(|d| {
        let none = Vec::new();
        let any = |label: &str| vec![(ANY.to_string(), label.to_string())];
        let mut account_options = any("Any account");
        account_options.extend(d.account_choices());
        let mut set_options = any("Any permission set");
        set_options.extend(d.set_choices());
        (
            Ticks::new(
                d.group_choices(),
                start.as_ref().map_or(&none, |p| &p.approver_group_ids),
                false,
            ),
            Ticks::new(
                d.user_choices(),
                start.as_ref().map_or(&none, |p| &p.approver_user_ids),
                false,
            ),
            account_options,
            set_options,
        )
    });
    let needed = RwSignal::new(start.as_ref().map_or(1, |p| p.approvals_needed).to_string());
    let rejections = RwSignal::new(
        start
            .as_ref()
            .map_or(1, |p| p.rejections_to_end)
            .to_string(),
    );
    let mfa = RwSignal::new(start.as_ref().is_none_or(|p| p.mfa_required));
    let wait = RwSignal::new(
        start
            .as_ref()
            .map_or(DEFAULT_PENDING_LIFETIME_SECS, |p| p.pending_lifetime_secs)
            .checked_div(60)
            .unwrap_or_default()
            .to_string(),
    );
    let form = FormState::new();
    let submit = {
        let (groups, users) = (groups.clone(), users.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            if !form.start() {
                return;
            }
            let number = |s: RwSignal<String>| s.get_untracked().trim().parse::<i64>().unwrap_or(0);
            let input = ApprovalPolicyInput {
                name: name.get_untracked().trim().to_string(),
                account_id: account.get_untracked(),
                permission_set_id: set.get_untracked(),
                approver_group_ids: groups.chosen(),
                approver_user_ids: users.chosen(),
                approvals_needed: number(needed),
                rejections_to_end: number(rejections),
                mfa_required: mfa.get_untracked(),
                pending_lifetime_secs: minutes_to_secs(&wait.get_untracked()).unwrap_or(0),
            };
            let faults = check_approval_policy(&input);
            let edit_id = edit_id.clone();
            send_policy(form, faults, is_edit, on_saved, async move {
                api::save_approval_policy(edit_id.as_deref(), &input)
                    .await
                    .map(|saved| saved.input.name)
            });
        }
    };
    let heading = if is_edit {
        "Edit approval policy"
    } else {
        "Add an approval policy"
    };
    view! {
        <section class="card" aria-labelledby="approval-form-heading">
            <h2 id="approval-form-heading">{heading}</h2>
            <ErrorAlert error=form.error />
            <form on:submit=submit novalidate class="grid-form">
                <TextField id="approval-name" label="Name" value=name autocomplete="off" maxlength=100 error=form.field_error("name") required=true />
                <SelectField id="approval-account" label="Account" value=account options=Signal::stored(account_options) error=form.field_error("account_id") />
                <SelectField id="approval-set" label="Permission set" value=set options=Signal::stored(set_options) error=form.field_error("permission_set_id") />
                <TickList id="approval-group" legend="Approver groups" ticks=groups error=form.field_error("approver_group_ids") empty="No groups yet: add one under Groups." />
                <TickList id="approval-user" legend="Approver users" ticks=users error=form.field_error("approver_user_ids") empty="No users yet." />
                <TextField id="approval-needed" label="Approvals needed" value=needed kind="number" inputmode="numeric" hint="From 1 to 10, each from a different person; the requester never counts." error=form.field_error("approvals_needed") required=true />
                <TextField id="approval-rejections" label="Rejections that end a request" value=rejections kind="number" inputmode="numeric" error=form.field_error("rejections_to_end") required=true />
                <TextField id="approval-wait" label="Pending lifetime (minutes)" value=wait kind="number" inputmode="numeric" hint="How long a request may wait for approval before it times out: 5 minutes to 7 days." error=form.field_error("pending_lifetime_secs") required=true />
                <CheckboxField id="approval-mfa".to_string() label="Approvers must pass a fresh MFA check" checked=mfa />
                <div class="actions">
                    <button type="submit" disabled=move || form.busy.get()>
                        {if is_edit { "Save approval policy" } else { "Add approval policy" }}
                    </button>
                    {is_edit.then(|| view! { <button type="button" class="secondary" on:click=move |_| on_cancel()>"Cancel"</button> })}
                </div>
            </form>
        </section>
    }
}
