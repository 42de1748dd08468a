//! Messages for the person: errors (`role="alert"`, read out at once) and notices of success
//! (`role="status"`).

use leptos::prelude::*;

/// An error message, shown while `error` holds one.
#[component]
pub fn ErrorAlert(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    move || {
        error.get().map(|message| {
            view! {
                <div class="alert alert-error" role="alert">
                    {message}
                </div>
            }
        })
    }
}

/// A notice of success, shown while `message` holds one.
#[component]
pub fn Notice(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    move || {
        message.get().map(|message| {
            view! {
                <div class="alert alert-ok" role="status">
                    {message}
                </div>
            }
        })
    }
}

/// Why something cannot work as things stand, one line each; nothing when there is nothing.
#[component]
pub fn Warnings(messages: Vec<String>) -> impl IntoView {
    (!messages.is_empty()).then(|| {
        view! {
            <ul class="warnings" role="note" aria-label="Warnings">
                {messages.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
            </ul>
        }
    })
}
