//! Data that loads, shown one way on every page: a status line while it loads (in a
//! `Transition`, so a reload keeps what is shown until the new data is there), the page's own
//! sentence when there is nothing, "not found" when asked to, an alert when loading failed,
//! and otherwise what the page makes of the data.

use std::sync::Arc;

use leptos::prelude::*;

use crate::api::{ApiError, ErrorCode};
use crate::components::alert::ErrorAlert;

/// What [`Loaded`] shows instead of the data when the data holds nothing, and how it tells.
pub struct Empty<T> {
    is_empty: fn(&T) -> bool,
    view: ViewFn,
}

impl<T> Empty<T> {
    /// `view` when `is_empty` says the data holds nothing.
    pub fn when(is_empty: fn(&T) -> bool, view: impl Into<ViewFn>) -> Self {
        Self {
            is_empty,
            view: view.into(),
        }
    }
}

impl<U> Empty<Vec<U>> {
    /// `view` when the list is empty.
    pub fn list(view: impl Into<ViewFn>) -> Self {
        Self {
            is_empty: Vec::is_empty,
            view: view.into(),
        }
    }
}

/// "Permission set" for "permission set".
fn capitalised(what: &str) -> String {
    let mut chars = what.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Shows what `data` reads, once it has loaded:
/// - while it loads, `loading` as a status line (`<p class="muted" role="status">`);
/// - when it loaded and `empty` says there is nothing, `empty`'s view;
/// - when it failed with "not found" and `not_found` names what was sought, a heading saying
///   it was not found and a sentence that it may have been deleted;
/// - when it failed otherwise, the error's message as an alert;
/// - otherwise `children` with the data.
///
/// `data` reads the resource (or several, e.g. `Some(list.and_then(|l| Ok((l, other?))))`
/// after `let other = other.get()?;`): `None` while any is still loading.
#[component]
pub fn Loaded<T, D, F, V>(
    /// Reads the data: `None` while it is loading.
    data: D,
    /// The status line while it loads, such as "Loading users…".
    loading: &'static str,
    /// What to show when the data holds nothing; without it, empty data goes to `children`.
    #[prop(optional)]
    empty: Option<Empty<T>>,
    /// What the page is about, in lower case ("group"): when the server finds no such thing,
    /// the page says so ("Group not found"). Without it, that is an alert like any other.
    #[prop(optional)]
    not_found: Option<&'static str>,
    /// Makes the view of the loaded data.
    children: F,
) -> impl IntoView
where
    T: 'static,
    D: Fn() -> Option<Result<T, ApiError>> + Send + Sync + 'static,
    F: Fn(T) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let view = move || {
        data().map(|result| {
            result.map(|value| match &empty {
                Some(empty) if (empty.is_empty)(&value) => empty.view.run(),
                _ => children(value).into_any(),
            })
        })
    };
    transition(Arc::new(view), loading, not_found)
}

// The parts that do not depend on the data are plain functions, so the wasm holds them once
// rather than once for each page's use of `Loaded`.

/// The `Transition`: `view` reads the data and makes its view, `None` while it loads.
fn transition(
    view: Arc<dyn Fn() -> Option<Result<AnyView, ApiError>> + Send + Sync>,
    loading: &'static str,
    not_found: Option<&'static str>,
) -> AnyView {
    view! {
        <Transition fallback=move || loading_line(loading)>
            {move || view().map(|result| result.unwrap_or_else(|e| failure(e, not_found)))}
        </Transition>
    }
    .into_any()
}

fn loading_line(text: &'static str) -> AnyView {
    view! { <p class="muted" role="status">{text}</p> }.into_any()
}

fn failure(e: ApiError, not_found: Option<&'static str>) -> AnyView {
    match not_found {
        Some(what) if e.code == ErrorCode::NotFound => view! {
            <h1>{format!("{} not found", capitalised(what))}</h1>
            <p>{format!("There is no such {what}; it may have been deleted.")}</p>
        }
        .into_any(),
        _ => view! { <ErrorAlert error=Signal::stored(Some(e.message)) /> }.into_any(),
    }
}
