//! Copying to the clipboard: a button that copies a value and says so, and a labelled
//! read-only block (a command, a JSON document, a key) with its own copy button.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

/// Puts `text` on the clipboard; `Err` when the browser refuses (no permission, no focus,
/// not a secure context).
pub async fn copy_text(text: &str) -> Result<(), ()> {
    let clipboard = web_sys::window().ok_or(())?.navigator().clipboard();
    wasm_bindgen_futures::JsFuture::from(clipboard.write_text(text))
        .await
        .map(|_| ())
        .map_err(|_| ())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Copied {
    Not,
    Yes,
    Failed,
}

/// A small "Copy" button for `text`. `label` names it for assistive technology and tests
/// ("Copy AccessKeyId"); after a click it says "Copied" for a moment.
#[component]
pub fn CopyButton(
    #[prop(into)] text: Signal<String>,
    #[prop(into)] label: String,
    #[prop(optional, into)] disabled: Option<Signal<bool>>,
) -> impl IntoView {
    let disabled = disabled.unwrap_or_else(|| Signal::stored(false));
    let state = RwSignal::new(Copied::Not);
    let click = move |_| {
        let value = text.get_untracked();
        spawn_local(async move {
            let outcome = if copy_text(&value).await.is_ok() {
                Copied::Yes
            } else {
                Copied::Failed
            };
            state.set(outcome);
            set_timeout(
                move || {
                    // The button may be gone by now (panel closed).
                    if state.try_get_untracked() == Some(outcome) {
                        state.set(Copied::Not);
                    }
                },
                Duration::from_secs(if outcome == Copied::Yes { 2 } else { 6 }),
            );
        });
    };
    view! {
        <span class="copy">
            <button
                type="button"
                class="secondary small"
                aria-label=label
                disabled=move || disabled.get()
                on:click=click
            >
                {move || if state.get() == Copied::Yes { "Copied" } else { "Copy" }}
            </button>
            <span class="copy-status" role="status">
                {move || match state.get() {
                    Copied::Not => "",
                    Copied::Yes => "Copied to the clipboard.",
                    Copied::Failed => "The browser did not allow copying: select the text and copy it.",
                }}
            </span>
        </span>
    }
}

/// A labelled value shown as code, with a copy button beside its label.
#[component]
pub fn CopyBlock(
    /// Unique on the page; the value's element gets this id.
    #[prop(into)]
    id: String,
    #[prop(into)] label: String,
    #[prop(into)] text: Signal<String>,
    /// One line (a key) or a block (a command, a document).
    #[prop(optional)]
    inline: bool,
    #[prop(optional, into)] disabled: Option<Signal<bool>>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let disabled = disabled.unwrap_or_else(|| Signal::stored(false));
    let label_id = format!("{id}-label");
    let copy_label = format!("Copy {label}");
    view! {
        <div class="copy-block" class:expired=move || disabled.get()>
            <div class="copy-head">
                <span class="label" id=label_id.clone()>{label}</span>
                <CopyButton text label=copy_label disabled />
            </div>
            {hint.map(|h| view! { <p class="hint">{h}</p> })}
            {if inline {
                view! { <code class="copy-value" id=id aria-labelledby=label_id>{move || text.get()}</code> }.into_any()
            } else {
                view! { <pre class="copy-value" id=id aria-labelledby=label_id>{move || text.get()}</pre> }.into_any()
            }}
        </div>
    }
}
