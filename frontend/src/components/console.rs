//! "Console ↗": opens a cloud console in a new tab as one permission set. For an account on
//! Gatehouse's own STS it is a plain link; for an Alibaba Cloud account Gatehouse makes a
//! fresh SAML sign-in (`POST /api/v1/portal/console`) and the browser posts it to the
//! cloud's role-SSO endpoint in a tab opened at the click, so no pop-up blocker stops it.

use std::cell::Cell;

use gatehouse_shared::cloud::{ConsoleRequest, ConsoleSignIn, Provider};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlFormElement, HtmlInputElement, Window};

use crate::api;

thread_local! {
    static OPENED: Cell<u32> = const { Cell::new(0) };
}

/// A name no earlier tab has, so each sign-in gets a tab of its own (and never one that
/// already shows a console: its document could not be written to).
fn fresh_window_name() -> String {
    let n = OPENED.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    format!("gatehouse-console-{:.0}-{n}", js_sys::Date::now())
}

/// Only a web address is followed or posted to.
fn is_web_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Opens an empty tab named `name` (at the click, so the browser allows it) saying what
/// is happening; `None` when the browser blocked it.
fn open_waiting_tab(name: &str) -> Option<Window> {
    let tab = web_sys::window()?
        .open_with_url_and_target("", name)
        .ok()
        .flatten()?;
    // The new tab is this site's blank page; guarded all the same, so a browser that says
    // otherwise costs the message, not the sign-in.
    if let Ok(document) = js_sys::Reflect::get(&tab, &JsValue::from_str("document")) {
        // Not `dyn_ref`: the tab's objects are of its own realm, so `instanceof` fails.
        if document.is_object() {
            let document: &web_sys::Document = document.unchecked_ref();
            document.set_title("Signing in… · Gatehouse");
            if let Some(body) = document.body() {
                body.set_text_content(Some("Signing in to the console…"));
            }
        }
    }
    Some(tab)
}

/// Cuts the new tab's way back to this page once it is on its way to the cloud.
fn let_go(tab: &Window) {
    let _ = js_sys::Reflect::set(tab, &JsValue::from_str("opener"), &JsValue::NULL);
}

/// Posts `fields` to `url` as a form aimed at the tab named `target`.
fn post_form(url: &str, fields: &[(String, String)], target: &str) -> Result<(), JsValue> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let body = document
        .body()
        .ok_or_else(|| JsValue::from_str("no body"))?;
    let form: HtmlFormElement = document.create_element("form")?.unchecked_into();
    form.set_method("post");
    form.set_action(url);
    form.set_target(target);
    form.set_hidden(true);
    for (name, value) in fields {
        let input: HtmlInputElement = document.create_element("input")?.unchecked_into();
        input.set_type("hidden");
        input.set_name(name);
        input.set_value(value);
        form.append_child(&input)?;
    }
    body.append_child(&form)?;
    let submitted = form.submit();
    form.remove();
    submitted
}

/// Sends the waiting tab where `sign_in` says.
fn follow(sign_in: &ConsoleSignIn, tab: &Window, name: &str) -> Result<(), String> {
    if !is_web_url(&sign_in.url) {
        return Err("Gatehouse answered with a sign-in address that is not a web address.".into());
    }
    let result = if sign_in.method.eq_ignore_ascii_case("POST") {
        post_form(&sign_in.url, &sign_in.fields, name)
    } else {
        tab.location().set_href(&sign_in.url)
    };
    result.map_err(|_| "The browser did not let this page open the console.".to_string())?;
    let_go(tab);
    Ok(())
}

/// The console button (or link) of one permission set in one account. Its failures go to
/// `error`, which the caller shows beside it.
#[component]
pub fn ConsoleButton(
    account_id: String,
    permission_set_id: String,
    provider: Provider,
    /// The console page of a `local` account (the permission set's relay state).
    console_url: String,
    /// The accessible name: which permission set in which account, and that it opens a tab.
    label: String,
    error: RwSignal<Option<String>>,
    /// A small secondary button, for a table row.
    #[prop(optional)]
    small: bool,
) -> impl IntoView {
    let class = if small {
        "button secondary small"
    } else {
        "button"
    };
    if provider == Provider::Local {
        return view! {
            <a class=class href=console_url target="_blank" rel="noopener" aria-label=label>
                "Console ↗"
            </a>
        }
        .into_any();
    }
    let busy = RwSignal::new(false);
    let open = move |_| {
        if busy.get_untracked() {
            return;
        }
        error.set(None);
        let name = fresh_window_name();
        let Some(tab) = open_waiting_tab(&name) else {
            error.set(Some(
                "The browser blocked the new tab. Allow pop-ups for Gatehouse and try again."
                    .into(),
            ));
            return;
        };
        busy.set(true);
        let request = ConsoleRequest {
            account_id: account_id.clone(),
            permission_set_id: permission_set_id.clone(),
        };
        spawn_local(async move {
            let outcome = match api::console_sign_in(&request).await {
                Ok(sign_in) => follow(&sign_in, &tab, &name),
                Err(e) => Err(e.message),
            };
            if let Err(message) = outcome {
                let _ = tab.close();
                error.set(Some(format!("The console did not open: {message}")));
            }
            busy.set(false);
        });
    };
    let button_class = if small { "secondary small" } else { "" };
    view! {
        <button type="button" class=button_class aria-label=label disabled=move || busy.get() on:click=open>
            {move || if busy.get() { "Signing in…" } else { "Console ↗" }}
        </button>
    }
    .into_any()
}
