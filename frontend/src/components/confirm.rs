//! The "Delete" button of a table row that asks once more before it acts: the row shows the
//! question with a "Delete" and a "Cancel" button, and only the second "Delete" sends.

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
