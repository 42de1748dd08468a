//! The page for paths the SPA does not know.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::components::set_page_title;

#[component]
pub fn NotFound() -> impl IntoView {
    set_page_title("Page not found");
    let path = use_location().pathname;
    view! {
        <section class="page narrow">
            <h1>"Page not found"</h1>
            <p>"There is no page at " <code>{move || path.get()}</code> "."</p>
            <p><a href="/portal" rel="external">"Go to the access portal"</a></p>
        </section>
    }
}
