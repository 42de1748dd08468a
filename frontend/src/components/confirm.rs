//! Buttons that ask once more before they act: the "Delete" button of a table row (the row
//! shows the question with a "Delete" and a "Cancel" button, and only the second "Delete"
//! sends), and the same for any other action that answers something.

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ApiError;
use crate::components::form::FormState;

#[component]
pub fn ConfirmDelete<A, F>(
    /// What is deleted, for the buttons' accessible names ("Delete <name>").
    name: String,
    /// The question shown beside the confirming button.
    question: &'static str,
    /// The page's form state: busy while the call runs, its error shown on failure.
    page: FormState,
    /// The call that deletes.
    action: A,
    /// Called with `name` once the call succeeded.
    done: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView
where
    A: Fn() -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<(), ApiError>> + 'static,
{
    let confirming = RwSignal::new(false);
    let name = StoredValue::new(name);
    let delete = move |_| {
        if !page.start() {
            return;
        }
        let call = action();
        spawn_local(async move {
            match call.await {
                Ok(()) => {
                    page.busy.set(false);
                    done(name.get_value());
                }
                Err(e) => {
                    confirming.set(false);
                    page.fail(e);
                }
            }
        });
    };
    move || {
        let label = name.get_value();
        if confirming.get() {
            let delete = delete.clone();
            view! {
                <span class="confirm">
                    {question}
                    <button type="button" class="danger small" aria-label=format!("Yes, delete {label}") disabled=move || page.busy.get() on:click=delete>
                        "Delete"
                    </button>
                    <button type="button" class="secondary small" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </span>
            }
            .into_any()
        } else {
            view! {
                <button type="button" class="danger small" aria-label=format!("Delete {label}") on:click=move |_| confirming.set(true)>
                    "Delete"
                </button>
            }
            .into_any()
        }
    }
}

/// A button for an action that is not a deletion but still asks once more: a click shows
/// `question` with a confirming button (`confirm`) and "Cancel"; only the confirming
/// button sends. `done` gets what the call answered.
#[component]
pub fn ConfirmAction<A, F, T>(
    /// The button's text, e.g. "Publish next key".
    label: &'static str,
    /// The question shown beside the confirming button.
    question: &'static str,
    /// The confirming button's text, e.g. "Publish".
    confirm: &'static str,
    /// The page's form state: busy while the call runs, its error shown on failure.
    page: FormState,
    /// The call.
    action: A,
    /// Called with the call's answer once it succeeded.
    done: impl Fn(T) + Copy + Send + Sync + 'static,
) -> impl IntoView
where
    A: Fn() -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<T, ApiError>> + 'static,
    T: 'static,
{
    let confirming = RwSignal::new(false);
    let act = move |_| {
        if !page.start() {
            return;
        }
        let call = action();
        spawn_local(async move {
            let outcome = call.await;
            confirming.set(false);
            match outcome {
                Ok(answer) => {
                    page.busy.set(false);
                    done(answer);
                }
                Err(e) => page.fail(e),
            }
        });
    };
    move || {
        if confirming.get() {
            let act = act.clone();
            view! {
                <span class="confirm">
                    {question}
                    <button type="button" class="small" aria-label=format!("Yes, {}", label.to_lowercase()) disabled=move || page.busy.get() on:click=act>
                        {confirm}
                    </button>
                    <button type="button" class="secondary small" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </span>
            }
            .into_any()
        } else {
            view! {
                <button type="button" class="secondary small" disabled=move || page.busy.get() on:click=move |_| confirming.set(true)>
                    {label}
                </button>
            }
            .into_any()
        }
    }
}
