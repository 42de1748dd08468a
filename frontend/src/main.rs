//! Gatehouse's single-page app: mounts the [`app::App`] into the page's `<body>`.

mod api;
mod app;
mod components;
mod pages;
mod session;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
