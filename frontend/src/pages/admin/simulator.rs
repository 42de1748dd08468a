//! The policy simulator: "may these policies do action A on resource R in context C?",
//! answered by the server's policy engine in RAM's policy language with the decision
//! (allowed, explicitly denied, implicitly denied), the statements that matched and decided,
//! by policy name, and the policies it did not evaluate (a permission set's IAM ones, for AWS
//! accounts). Pasted documents must be RAM policies: the editors say so as one types.

use std::collections::BTreeMap;

use gatehouse_shared::permission_sets::PermissionSet;
use gatehouse_shared::policies::{
    statement_text, PolicyLanguage, SimulatePolicy, SimulatedStatement, Simulation,
};
use gatehouse_shared::validate::Faults;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;

use crate::api::{self, ErrorCode};
use crate::components::alert::ErrorAlert;
use crate::components::badge::{Badge, Tone};
use crate::components::field::{SelectField, TextField};
use crate::components::form::FormState;
use crate::components::policy_editor::{PolicyCheck, PolicyEditor};
use crate::components::set_page_title;
use crate::components::table::DataTable;
use crate::components::time::local_input_to_utc;

/// The longest session policy, in characters (RAM's limit).
const MAX_SESSION_POLICY_CHARS: usize = 2_048;

/// What the policies to test come from.
const FROM_PERMISSION_SET: &str = "permission_set";
const FROM_DOCUMENTS: &str = "documents";

/// One pasted policy document; `key` keeps its editor when others are removed.
#[derive(Debug, Clone, Copy)]
struct Document {
    key: u32,
    check: PolicyCheck,
}

/// One free condition key with its values (comma-separated).
#[derive(Debug, Clone, Copy)]
struct ContextRow {
    key: u32,
    name: RwSignal<String>,
    values: RwSignal<String>,
}

/// An answer, with the documents it was about so each statement can be shown.
#[derive(Debug, Clone)]
struct Outcome {
    action: String,
    resource: String,
    session_policy: bool,
    simulation: Simulation,
    /// Policy name (as the server names it) → document text.
    documents: Vec<(String, String)>,
}

#[component]
pub fn SimulatorPage() -> impl IntoView {
    set_page_title("Policy simulator");
    let query = use_query_map();
    let preset = query.with_untracked(|q| q.get("permission_set").unwrap_or_default());
    let sets = LocalResource::new(api::permission_sets);
    let catalogue = LocalResource::new(api::system_policies);

    let source = RwSignal::new(FROM_PERMISSION_SET.to_string());
    let permission_set = RwSignal::new(preset);
    let next_key = StoredValue::new(1u32);
    let documents = RwSignal::new(vec![Document {
        key: 0,
        check: PolicyCheck::demanding(String::new(), PolicyLanguage::Ram),
    }]);
    let with_session = RwSignal::new(false);
    let session = PolicyCheck::demanding(String::new(), PolicyLanguage::Ram);
    let action = RwSignal::new(String::new());
    let resource = RwSignal::new(String::new());
    let source_ip = RwSignal::new(String::new());
    let mfa = RwSignal::new(String::new());
    let secure = RwSignal::new(String::new());
    let current_time = RwSignal::new(String::new());
    let rows = RwSignal::new(Vec::<ContextRow>::new());
    // The document keys in the order they were sent, so `policies[i]` faults find their editor.
    let sent = RwSignal::new(Vec::<u32>::new());
    let outcome = RwSignal::new(None::<Outcome>);
    let form = FormState::new();

    let new_key = move || {
        let key = next_key.get_value();
        next_key.set_value(key + 1);
        key
    };
    let add_document = move |_| {
        let key = new_key();
        documents.update(|d| {
            d.push(Document {
                key,
                check: PolicyCheck::demanding(String::new(), PolicyLanguage::Ram),
            });
        });
    };
    let add_row = move |_| {
        let key = new_key();
        rows.update(|r| {
            r.push(ContextRow {
                key,
                name: RwSignal::new(String::new()),
                values: RwSignal::new(String::new()),
            });
        });
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !form.start() {
            return;
        }
        let mut faults = Faults::new();
        let from_set = source.get_untracked() == FROM_PERMISSION_SET;
        let set_id = permission_set.get_untracked();
        if from_set && set_id.is_empty() {
            faults.push("permission_set_id", "Choose a permission set.");
        }
        let docs: Vec<Document> = if from_set {
            Vec::new()
        } else {
            documents
                .get_untracked()
                .into_iter()
                .filter(|d| d.check.text.with_untracked(|t| !t.trim().is_empty()))
                .collect()
        };
        if !from_set && docs.is_empty() {
            faults.push("policies", "Paste at least one policy document.");
        }
        let action_text = action.get_untracked().trim().to_string();
        if action_text.is_empty() {
            faults.push("action", "Enter an action, such as ecs:StartInstance.");
        }
        let resource_text = resource.get_untracked().trim().to_string();
        if resource_text.is_empty() {
            faults.push(
                "resource",
                "Enter a resource, such as acs:ecs:cn-hangzhou:1234567890123456:instance/i-abc.",
            );
        }
        let mut context = BTreeMap::<String, Vec<String>>::new();
        let ip = source_ip.get_untracked().trim().to_string();
        if !ip.is_empty() {
            context.insert("acs:SourceIp".into(), vec![ip]);
        }
        for (key, value) in [("acs:MFAPresent", mfa), ("acs:SecureTransport", secure)] {
            let value = value.get_untracked();
            if !value.is_empty() {
                context.insert(key.into(), vec![value]);
            }
        }
        let time = current_time.get_untracked();
        if !time.trim().is_empty() {
            match local_input_to_utc(&time) {
                Some(utc) => {
                    context.insert("acs:CurrentTime".into(), vec![utc]);
                }
                None => faults.push("acs:CurrentTime", "Enter a date and time."),
            }
        }
        for row in rows.get_untracked() {
            let name = row.name.get_untracked().trim().to_string();
            let values: Vec<String> = row
                .values
                .get_untracked()
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            match (name.is_empty(), values.is_empty()) {
                (true, true) => {}
                (true, false) => faults.push("context", "Enter the condition key of each value."),
                (false, true) => faults.push("context", format!("Enter a value for {name}.")),
                (false, false) => {
                    context.entry(name).or_default().extend(values);
                }
            }
        }
        if !form.check(faults) {
            return;
        }
        let session_text = if with_session.get_untracked() {
            Some(session.text.get_untracked()).filter(|t| !t.trim().is_empty())
        } else {
            None
        };
        sent.set(docs.iter().map(|d| d.key).collect());
        let texts: Vec<String> = docs.iter().map(|d| d.check.text.get_untracked()).collect();
        let request = SimulatePolicy {
            policies: texts.clone(),
            permission_set_id: from_set.then_some(set_id.clone()),
            session_policy: session_text.clone(),
            action: action_text.clone(),
            resource: resource_text.clone(),
            context,
        };
        // The documents each statement may come from, to show it.
        let mut named: Vec<(String, String)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("policies[{i}]"), t.clone()))
            .collect();
        if from_set {
            let set = sets
                .get_untracked()
                .and_then(Result::ok)
                .and_then(|list| list.into_iter().find(|s| s.id == set_id));
            if let Some(set) = set {
                let system = catalogue
                    .get_untracked()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                for name in &set.system_policies {
                    if let Some(p) = system.iter().find(|p| p.name == *name) {
                        named.push((p.name.clone(), p.document.clone()));
                    }
                }
                if let Some(inline) = set.inline_policy {
                    named.push(("inline".into(), inline));
                }
            }
        }
        if let Some(text) = &session_text {
            named.push(("session".into(), text.clone()));
        }
        spawn_local(async move {
            // Faults are shown in place, in the editor, before anything is simulated.
            let mut all_valid = true;
            for d in &docs {
                all_valid &= d.check.validate().await != Some(false);
            }
            if session_text.is_some() {
                all_valid &= session.validate().await != Some(false);
            }
            if !all_valid {
                form.busy.set(false);
                form.error
                    .set(Some("A policy is not valid: see the place marked.".into()));
                return;
            }
            match api::simulate(&request).await {
                Ok(simulation) => {
                    form.succeed(None);
                    outcome.set(Some(Outcome {
                        action: action_text,
                        resource: resource_text,
                        session_policy: session_text.is_some(),
                        simulation,
                        documents: named,
                    }));
                }
                Err(e) if e.code == ErrorCode::NotFound => {
                    form.busy.set(false);
                    form.set_field_error(
                        "permission_set_id",
                        "That permission set no longer exists.",
                    );
                }
                Err(e) => form.fail(e),
            }
        });
    };

    let set_options = Signal::derive(move || {
        let mut options = vec![(String::new(), "Choose a permission set…".to_string())];
        if let Some(Ok(list)) = sets.get() {
            options.extend(list.into_iter().map(|s: PermissionSet| {
                let label = format!("{} ({})", s.name, s.role_name);
                (s.id, label)
            }));
        }
        options
    });
    let sources = Signal::stored(vec![
        (
            FROM_PERMISSION_SET.to_string(),
            "A permission set".to_string(),
        ),
        (
            FROM_DOCUMENTS.to_string(),
            "Policy documents I paste".to_string(),
        ),
    ]);
    let bools = Signal::stored(vec![
        (String::new(), "Not set".to_string()),
        ("true".to_string(), "true".to_string()),
        ("false".to_string(), "false".to_string()),
    ]);

    view! {
        <section class="page">
            <h1>"Policy simulator"</h1>
            <p class="lead">
                "Ask whether a request would be allowed: the server's policy engine evaluates RAM policies (\"Version\": \"1\") as Alibaba Cloud RAM and local accounts do — an explicit Deny wins, and anything no statement allows is denied. IAM policies, for AWS accounts, are not evaluated here: AWS's IAM policy simulator does that."
            </p>
            <section class="card" aria-labelledby="sim-heading">
                <h2 id="sim-heading">"Request to simulate"</h2>
                <ErrorAlert error=form.error />
                <form on:submit=submit novalidate class="grid-form">
                    <fieldset>
                        <legend>"Policies"</legend>
                        <div class="grid-form">
                            <SelectField id="sim-source" label="Test the policies of" value=source options=sources />
                            <Show when=move || source.get() == FROM_PERMISSION_SET>
                                <SelectField
                                    id="sim-permission-set"
                                    label="Permission set"
                                    value=permission_set
                                    options=set_options
                                    error=form.field_error("permission_set_id")
                                />
                            </Show>
                        </div>
                        <Show when=move || source.get() == FROM_DOCUMENTS>
                            <For each=move || documents.get() key=|d| d.key let:doc>
                                <DocumentEditor doc documents sent form />
                            </For>
                            {move || form.field_error("policies").get().map(|m| view! { <p class="field-error">{m}</p> })}
                            <button type="button" class="secondary small" on:click=add_document>"Add another document"</button>
                        </Show>
                        <div class="check session-toggle">
                            <input
                                type="checkbox"
                                id="sim-with-session"
                                prop:checked=move || with_session.get()
                                on:change=move |ev| with_session.set(event_target_checked(&ev))
                            />
                            <label for="sim-with-session">"Narrow with a session policy"</label>
                            <span class="hint">"As a session policy passed when credentials are issued: both must allow."</span>
                        </div>
                        <Show when=move || with_session.get()>
                            <PolicyEditor
                                id="sim-session-policy"
                                label="Session policy"
                                check=session
                                rows=8
                                max_chars=MAX_SESSION_POLICY_CHARS
                                error=form.field_error("session_policy")
                            />
                        </Show>
                    </fieldset>
                    <div class="request-row">
                        <TextField
                            id="sim-action"
                            label="Action"
                            value=action
                            autocomplete="off"
                            placeholder="ecs:StartInstance"
                            hint="service:Operation"
                            error=form.field_error("action")
                        />
                        <TextField
                            id="sim-resource"
                            label="Resource"
                            value=resource
                            autocomplete="off"
                            placeholder="acs:ecs:cn-hangzhou:1234567890123456:instance/i-abc"
                            hint="acs:service:region:account:relative-id"
                            error=form.field_error("resource")
                        />
                    </div>
                    <fieldset>
                        <legend>"Request context"</legend>
                        <p class="hint">"The condition keys the request carries. Leave a key empty to send it without."</p>
                        <div class="filters context-grid">
                            <TextField
                                id="sim-source-ip"
                                label="acs:SourceIp"
                                value=source_ip
                                autocomplete="off"
                                placeholder="203.0.113.7"
                            />
                            <SelectField id="sim-mfa" label="acs:MFAPresent" value=mfa options=bools />
                            <SelectField id="sim-secure" label="acs:SecureTransport" value=secure options=bools />
                            <TextField
                                id="sim-current-time"
                                label="acs:CurrentTime"
                                kind="datetime-local"
                                value=current_time
                                error=form.field_error("acs:CurrentTime")
                            />
                        </div>
                        <For each=move || rows.get() key=|r| r.key let:row>
                            <ContextRowInputs row rows />
                        </For>
                        {move || form.field_error("context").get().map(|m| view! { <p class="field-error">{m}</p> })}
                        <button type="button" class="secondary small" on:click=add_row>"Add a condition key"</button>
                    </fieldset>
                    <div class="actions">
                        <button type="submit" disabled=move || form.busy.get()>
                            {move || if form.busy.get() { "Simulating…" } else { "Simulate" }}
                        </button>
                    </div>
                </form>
            </section>
            <div aria-live="polite">
                {move || outcome.get().map(|o| view! { <Verdict o /> })}
            </div>
        </section>
    }
}

/// One pasted document's editor, with its `policies[i]` fault from the server.
#[component]
fn DocumentEditor(
    doc: Document,
    documents: RwSignal<Vec<Document>>,
    sent: RwSignal<Vec<u32>>,
    form: FormState,
) -> impl IntoView {
    let error = Signal::derive(move || {
        sent.with(|s| s.iter().position(|k| *k == doc.key))
            .and_then(|i| form.field_message(&format!("policies[{i}]")))
    });
    let number = move || {
        documents
            .with(|d| d.iter().position(|x| x.key == doc.key))
            .map_or(1, |i| i + 1)
    };
    let remove = move |_| documents.update(|d| d.retain(|x| x.key != doc.key));
    let id = format!("sim-policy-{}", doc.key);
    view! {
        <div class="document">
            <PolicyEditor
                id
                label=format!("Policy document {}", number())
                check=doc.check
                rows=10
                error
            />
            <Show when=move || documents.with(|d| d.len() > 1)>
                <button type="button" class="secondary small" on:click=remove>
                    {move || format!("Remove document {}", number())}
                </button>
            </Show>
        </div>
    }
}

#[component]
fn ContextRowInputs(row: ContextRow, rows: RwSignal<Vec<ContextRow>>) -> impl IntoView {
    let name_id = format!("sim-key-{}", row.key);
    let values_id = format!("sim-values-{}", row.key);
    let remove_label = move || {
        let name = row.name.get();
        if name.trim().is_empty() {
            "Remove this condition key".to_string()
        } else {
            format!("Remove {}", name.trim())
        }
    };
    view! {
        <div class="inline-form context-row">
            <div class="field">
                <label for=name_id.clone()>"Condition key"</label>
                <input
                    id=name_id
                    autocomplete="off"
                    placeholder="acs:RequestTag/team"
                    prop:value=move || row.name.get()
                    on:input=move |ev| row.name.set(event_target_value(&ev))
                />
            </div>
            <div class="field">
                <label for=values_id.clone()>"Values"</label>
                <input
                    id=values_id
                    autocomplete="off"
                    placeholder="payments, platform"
                    prop:value=move || row.values.get()
                    on:input=move |ev| row.values.set(event_target_value(&ev))
                />
            </div>
            <button
                type="button"
                class="secondary small"
                aria-label=remove_label
                on:click=move |_| rows.update(|r| r.retain(|x| x.key != row.key))
            >
                "Remove"
            </button>
        </div>
    }
}

#[component]
fn Verdict(o: Outcome) -> impl IntoView {
    let s = o.simulation;
    let (class, word, why) = match s.decision.as_str() {
        "allow" => (
            "decision decision-allow",
            "Allowed",
            if o.session_policy {
                "An Allow statement matches this request, no Deny statement does, and the session policy allows it too."
            } else {
                "An Allow statement matches this request and no Deny statement does."
            },
        ),
        "explicit_deny" => (
            "decision decision-deny",
            "Explicitly denied",
            "A Deny statement matches this request. An explicit Deny always wins over any Allow.",
        ),
        _ => (
            "decision decision-implicit",
            "Implicitly denied",
            if o.session_policy {
                "Nothing allows this request in both the policies and the session policy, so it is denied by default."
            } else {
                "No statement allows this request, so it is denied by default."
            },
        ),
    };
    let documents = StoredValue::new(o.documents);
    // The deciding statements show their text at once; the others on request.
    let table = move |caption: &'static str, list: Vec<SimulatedStatement>, open: bool| {
        view! {
            <DataTable caption headers=&["Policy", "Statement", "Effect", "Text"]>
                {list
                    .into_iter()
                    .map(|st| {
                        let text = documents.with_value(|docs| {
                            docs.iter()
                                .find(|(name, _)| *name == st.policy)
                                .and_then(|(_, doc)| statement_text(doc, st.statement_index))
                        });
                        let label = match &st.sid {
                            Some(sid) => format!("#{} · {sid}", st.statement_index + 1),
                            None => format!("#{}", st.statement_index + 1),
                        };
                        let tone = if st.effect == "Deny" { Tone::Bad } else { Tone::Good };
                        view! {
                            <tr>
                                <th scope="row"><code>{st.policy}</code></th>
                                <td>{label}</td>
                                <td><Badge tone text=st.effect /></td>
                                <td>
                                    {text.map_or_else(
                                        || view! { <span class="muted">"—"</span> }.into_any(),
                                        |t| view! {
                                            <details open=open>
                                                <summary>"Statement text"</summary>
                                                <pre class="policy-doc">{t}</pre>
                                            </details>
                                        }
                                        .into_any(),
                                    )}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </DataTable>
        }
    };
    let deciding = if s.deciding.is_empty() {
        view! { <p class="muted">"No statement decided: nothing matched this request."</p> }
            .into_any()
    } else {
        table("Deciding statements", s.deciding, true).into_any()
    };
    let matched = if s.matched.is_empty() {
        view! { <p class="muted">"Matching statements: none."</p> }.into_any()
    } else {
        table("Matching statements", s.matched, false).into_any()
    };
    view! {
        <section class="card" aria-labelledby="result-heading">
            <h2 id="result-heading">"Result"</h2>
            <div class=class role="status">
                <p class="decision-word">{word}</p>
                <p class="decision-request">
                    <code>{o.action}</code>" on "<code class="break">{o.resource}</code>
                </p>
                <p>{why}</p>
            </div>
            <p class="evaluated-as">
                {format!("Evaluated as {} language.", s.language.label())}
                {match s.skipped.len() {
                    0 => String::new(),
                    1 => " 1 policy was not evaluated: see “Not evaluated” below.".to_string(),
                    n => format!(" {n} policies were not evaluated: see “Not evaluated” below."),
                }}
            </p>
            {(!s.context_errors.is_empty()).then(|| view! {
                <div class="alert alert-warn" role="alert">
                    <p>"Some context values could not be read by a condition:"</p>
                    <ul>{s.context_errors.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
                </div>
            })}
            {deciding}
            {matched}
            {(!s.skipped.is_empty()).then(|| view! {
                <DataTable caption="Not evaluated" headers=&["Policy", "Why"]>
                    {s.skipped
                        .into_iter()
                        .map(|k| view! {
                            <tr>
                                <th scope="row"><code class="break">{k.policy}</code></th>
                                <td>{k.reason}</td>
                            </tr>
                        })
                        .collect_view()}
                </DataTable>
            })}
        </section>
    }
}
