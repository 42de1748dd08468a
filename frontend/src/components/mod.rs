//! Small reusable pieces shared by the pages: alerts, badges, files to copy or download,
//! the confirming delete button, the console button, copying, form fields, data that
//! loads, the policy editor, tables, times.

pub mod alert;
pub mod badge;
pub mod code;
pub mod confirm;
pub mod console;
pub mod copy;
pub mod field;
pub mod form;
pub mod loaded;
pub mod policy_editor;
pub mod table;
pub mod time;

/// Sets the document title as "`page` · Gatehouse", so tabs and history say where one is.
pub fn set_page_title(page: &str) {
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        document.set_title(&format!("{page} · Gatehouse"));
    }
}
