//! A data table with a caption and column headers, scrolling sideways on narrow screens.

use leptos::prelude::*;

#[component]
pub fn DataTable(
    /// Names the table for assistive technology (and for tests finding it by role).
    #[prop(into)]
    caption: String,
    headers: &'static [&'static str],
    /// Many columns: on narrow screens keep a readable width and scroll sideways.
    #[prop(optional)]
    wide: bool,
    /// The `<tr>` rows.
    children: Children,
) -> impl IntoView {
    view! {
        <div class="table-wrap" class:wide=wide>
            <table>
                <caption>{caption}</caption>
                <thead>
                    <tr>
                        {headers.iter().map(|h| view! { <th scope="col">{*h}</th> }).collect_view()}
                    </tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
