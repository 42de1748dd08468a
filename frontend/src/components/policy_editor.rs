//! The policy editor: a monospace text area with line numbers that the server checks as one
//! types (after a pause), on "Validate" and before a form is sent — in the language the
//! document is written in (RAM's or IAM's, which the status names), or in the one the page
//! demands. A fault is shown where it is: its line number marked, the line quoted under the
//! editor with a caret at the column, and a button that puts the cursor there.

use std::time::Duration;

use gatehouse_shared::policies::{
    excerpt, utf16_offset, PolicyFault, PolicyLanguage, PolicyValidation,
};
use gatehouse_shared::text::thousands;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;

/// How long typing must pause before the document is checked.
const DEBOUNCE: Duration = Duration::from_millis(600);

/// A policy to start from when the editor is empty.
pub const EXAMPLE_POLICY: &str = r#"{
  "Version": "1",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["ecs:Describe*", "ecs:StartInstance", "ecs:StopInstance"],
      "Resource": "acs:ecs:*:*:instance/*"
    }
  ]
}"#;

/// The latest answer of the server, with the text it was about.
type Answer = (String, Result<PolicyValidation, String>);

/// One policy document being edited and what the server last said about it.
#[derive(Debug, Clone, Copy)]
pub struct PolicyCheck {
    pub text: RwSignal<String>,
    answer: RwSignal<Option<Answer>>,
    /// Counts edits, so only the last pause in typing sends a check.
    edits: StoredValue<u64>,
    /// The language the page takes, if only one; `None` checks each document in its own.
    demand: Option<PolicyLanguage>,
}

impl PolicyCheck {
    /// A document checked in the language it is written in.
    pub fn new(initial: impl Into<String>) -> Self {
        Self {
            text: RwSignal::new(initial.into()),
            answer: RwSignal::new(None),
            edits: StoredValue::new(0),
            demand: None,
        }
    }

    /// A document that must be in `language`: one in the other is a fault.
    pub fn demanding(initial: impl Into<String>, language: PolicyLanguage) -> Self {
        Self {
            demand: Some(language),
            ..Self::new(initial)
        }
    }

    /// Replaces the text (and checks it after the usual pause).
    pub fn set(self, text: impl Into<String>) {
        self.text.set(text.into());
        self.schedule();
    }

    /// Checks the current text now. `Some(true)` when it is empty or valid, `Some(false)`
    /// when the server found a fault (now shown in the editor), `None` when it could not
    /// be asked (the form's own request will meet the same rules).
    pub async fn validate(self) -> Option<bool> {
        let text = self.text.get_untracked();
        if text.trim().is_empty() {
            self.answer.set(None);
            return Some(true);
        }
        let result = api::validate_policy(&text, self.demand)
            .await
            .map_err(|e| e.message);
        let verdict = result.as_ref().ok().map(|v| v.valid);
        // An answer about text that has since changed would point at the wrong place.
        if self.text.try_with_untracked(|now| *now == text) == Some(true) {
            self.answer.set(Some((text, result)));
        }
        verdict
    }

    /// Checks the text once typing has paused.
    fn schedule(self) {
        self.edits.update_value(|n| *n += 1);
        let edit = self.edits.get_value();
        set_timeout(
            move || {
                // The editor may be gone (page left) by now.
                if self.edits.try_get_value() == Some(edit) {
                    spawn_local(async move {
                        let _ = self.validate().await;
                    });
                }
            },
            DEBOUNCE,
        );
    }

    /// The server's answer about the text as it is now (tracked); `None` while unchecked.
    fn current(self) -> Option<Result<PolicyValidation, String>> {
        let text = self.text.get();
        self.answer.with(|a| {
            a.as_ref()
                .filter(|(checked, _)| *checked == text)
                .map(|(_, result)| result.clone())
        })
    }

    /// The fault in the text as it is now (tracked).
    fn fault(self) -> Option<PolicyFault> {
        match self.current() {
            Some(Ok(v)) => v.fault,
            _ => None,
        }
    }

    /// Whether the server said the text as it is now is not valid (tracked).
    fn refused(self) -> bool {
        matches!(self.current(), Some(Ok(v)) if !v.valid)
    }
}

/// The language a document was read in, as a tag beside the verdict, with where such a
/// policy applies: "RAM policy · Alibaba Cloud and local accounts".
fn language_tag(language: PolicyLanguage) -> impl IntoView {
    view! {
        <span class="policy-lang">
            <span class="badge">{language.label()}</span>
            <span class="hint">{format!("for {}", language.accounts())}</span>
        </span>
    }
}

/// "Line 4, column 12: expected a string, found `}`."
pub fn fault_sentence(fault: &PolicyFault) -> String {
    format!(
        "Line {}, column {}: expected {}, found {}.",
        fault.line, fault.column, fault.expected, fault.found
    )
}

/// A labelled policy editor bound to `check`.
#[component]
pub fn PolicyEditor(
    /// The text area's id, unique on the page.
    #[prop(into)]
    id: String,
    #[prop(into)] label: String,
    check: PolicyCheck,
    /// The field's fault from the form or the server (`validation_failed`).
    #[prop(optional, into)]
    error: Option<Signal<Option<String>>>,
    #[prop(optional)] hint: Option<&'static str>,
    /// The longest document allowed, in characters.
    #[prop(default = 6_144)]
    max_chars: usize,
    #[prop(default = 12)] rows: u32,
) -> impl IntoView {
    let error = error.unwrap_or_else(|| Signal::stored(None));
    let hint_id = format!("{id}-hint");
    let status_id = format!("{id}-status");
    let gutter = NodeRef::<leptos::html::Div>::new();
    let area = NodeRef::<leptos::html::Textarea>::new();
    let checking = RwSignal::new(false);

    let lines = Memo::new(move |_| check.text.with(|t| t.split('\n').count()));
    let fault = Memo::new(move |_| check.fault());
    let fault_line = move || fault.with(|f| f.as_ref().map(|f| f.line));
    let refused = Memo::new(move |_| check.refused());
    let invalid = move || refused.get() || error.with(Option::is_some);
    let length = move || check.text.with(|t| t.chars().count());

    let validate_now = move |_| {
        if checking.get_untracked() {
            return;
        }
        checking.set(true);
        spawn_local(async move {
            let _ = check.validate().await;
            checking.set(false);
        });
    };
    let show_fault = move |_| {
        let (Some(f), Some(el)) = (fault.get_untracked(), area.get_untracked()) else {
            return;
        };
        let at = check.text.with_untracked(|t| utf16_offset(t, &f));
        let _ = el.focus();
        let _ = el.set_selection_range(at, at.saturating_add(1));
    };
    let sync_scroll = move |_| {
        if let (Some(g), Some(a)) = (gutter.get_untracked(), area.get_untracked()) {
            g.set_scroll_top(a.scroll_top());
        }
    };

    let status = move || {
        let text_empty = check.text.with(|t| t.trim().is_empty());
        if text_empty {
            return None;
        }
        Some(match check.current() {
            None => view! { <p class="hint">"Checking…"</p> }.into_any(),
            Some(Err(message)) => view! {
                <p class="field-error">{format!("The policy could not be checked: {message}")}</p>
            }
            .into_any(),
            Some(Ok(v)) if v.valid => {
                let n = v.statement_count;
                let statements = if n == 1 {
                    "1 statement".to_string()
                } else {
                    format!("{n} statements")
                };
                view! {
                    <p class="policy-verdict">
                        <span class="policy-ok">{format!("✓ Valid policy, {statements}.")}</span>
                        " "
                        {language_tag(v.language)}
                    </p>
                }
                .into_any()
            }
            Some(Ok(v)) => match v.fault {
                Some(f) => {
                    let (line, caret) = check.text.with(|t| excerpt(t, &f));
                    let number = f.line.to_string();
                    let pad = " ".repeat(number.len());
                    // In the wrong language, the sentence says which it is and which is taken;
                    // otherwise the fault's place and what was expected there.
                    let wrong_language = check.demand.is_some_and(|d| d != v.language);
                    let sentence = match (&v.message, wrong_language) {
                        (Some(message), true) => message.clone(),
                        _ => fault_sentence(&f),
                    };
                    view! {
                        <div class="policy-fault">
                            <p class="policy-verdict">{language_tag(v.language)}</p>
                            <p class="field-error">{sentence}</p>
                            <pre class="fault-excerpt" aria-hidden="true">
                                <span class="fault-ln">{format!("{number} │ ")}</span>{line}"\n"
                                <span class="fault-ln">{format!("{pad} │ ")}</span><span class="fault-caret">{caret}</span>
                            </pre>
                            <button type="button" class="secondary small" on:click=show_fault>
                                {format!("Go to line {}", f.line)}
                            </button>
                        </div>
                    }
                    .into_any()
                }
                None => view! {
                    <div class="policy-fault">
                        <p class="policy-verdict">{language_tag(v.language)}</p>
                        <p class="field-error">
                            {v.message.unwrap_or_else(|| "The policy is not valid.".to_string())}
                        </p>
                    </div>
                }
                .into_any(),
            },
        })
    };
    let described_by = {
        let hint_id = hint_id.clone();
        let status_id = status_id.clone();
        move || {
            let mut ids = vec![status_id.clone()];
            if hint.is_some() {
                ids.insert(0, hint_id.clone());
            }
            ids.join(" ")
        }
    };

    view! {
        <div class="field policy-field" class:field-invalid=invalid>
            <label for=id.clone()>{label}</label>
            {hint.map(|h| view! { <p class="hint" id=hint_id>{h}</p> })}
            <div class="policy-editor">
                <div class="gutter" aria-hidden="true" node_ref=gutter>
                    {move || {
                        let bad = fault_line();
                        (1..=lines.get())
                            .map(|n| view! { <span class:bad=bad == Some(n)>{n}</span> })
                            .collect_view()
                    }}
                </div>
                <textarea
                    id=id.clone()
                    name=id
                    rows=rows
                    wrap="off"
                    spellcheck="false"
                    autocomplete="off"
                    node_ref=area
                    aria-invalid=move || invalid().then_some("true")
                    aria-describedby=described_by
                    prop:value=move || check.text.get()
                    on:input=move |ev| check.set(event_target_value(&ev))
                    on:scroll=sync_scroll
                ></textarea>
            </div>
            <div class="policy-bar">
                <button type="button" class="secondary small" on:click=validate_now disabled=move || checking.get()>
                    "Validate"
                </button>
                <Show when=move || check.text.with(|t| t.trim().is_empty())>
                    <button type="button" class="secondary small" on:click=move |_| check.set(EXAMPLE_POLICY)>
                        "Start from an example"
                    </button>
                </Show>
                <span class="hint count" class:over=move || { length() > max_chars }>
                    {move || format!("{} / {} characters", thousands(length()), thousands(max_chars))}
                </span>
            </div>
            <div id=status_id aria-live="polite">
                {status}
                {move || {
                    // The server's sentence, unless the editor already shows what is wrong.
                    error
                        .get()
                        .filter(|_| !refused.get())
                        .map(|message| view! { <p class="field-error">{message}</p> })
                }}
            </div>
        </div>
    }
}
