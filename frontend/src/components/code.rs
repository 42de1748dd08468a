//! A file to take away: a labelled code block (scrolling when long, and saying so: its line
//! count, "scroll", a fade at the edge with more below) with a copy button and a download
//! link that saves it under its file name, from a `data:` URL (nothing to revoke later,
//! nothing fetched again).

use leptos::prelude::*;

use crate::components::copy::CopyButton;

/// How many lines the block shows before it scrolls (`.code-file` in `style.css`: a
/// max-height of 20rem at .85rem × 1.5).
const VISIBLE_LINES: usize = 15;

/// "27 lines — scroll" for a block that scrolls, "9 lines" for one that does not.
fn line_count(text: &str) -> String {
    let lines = text.lines().count();
    match lines {
        1 => "1 line".to_string(),
        n if n > VISIBLE_LINES => format!("{n} lines — scroll"),
        n => format!("{n} lines"),
    }
}

/// `text` as a `data:` URL of type `mime` (UTF-8), for a download link.
pub fn data_url(mime: &str, text: &str) -> String {
    format!(
        "data:{mime};charset=utf-8,{}",
        String::from(js_sys::encode_uri_component(text))
    )
}

#[component]
pub fn CodeFile(
    /// Unique on the page; the code element gets this id.
    #[prop(into)]
    id: String,
    #[prop(into)] label: String,
    /// What the download is saved as, e.g. `gatehouse.tf`.
    file_name: &'static str,
    /// The download's media type, e.g. `application/json`.
    mime: &'static str,
    text: String,
    /// A line under the label: what the file is for, how to run it.
    #[prop(optional)]
    hint: Option<&'static str>,
) -> impl IntoView {
    let label_id = format!("{id}-label");
    let href = data_url(mime, &text);
    let copy_label = format!("Copy {label}");
    let download_label = format!("Download {label} as {file_name}");
    let lines = line_count(&text);
    view! {
        <div class="copy-block">
            <div class="copy-head">
                <span class="label" id=label_id.clone()>{label}</span>
                <CopyButton text=text.clone() label=copy_label />
                <a class="button secondary small" href=href download=file_name aria-label=download_label>
                    "Download " <code>{file_name}</code>
                </a>
                <span class="hint code-lines">{lines}</span>
            </div>
            {hint.map(|h| view! { <p class="hint">{h}</p> })}
            <pre class="copy-value policy-doc code-file" id=id aria-labelledby=label_id tabindex="0">{text}</pre>
        </div>
    }
}
