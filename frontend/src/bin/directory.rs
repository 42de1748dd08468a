//! The directory bundle: mounts [`gatehouse_frontend::app::DirectoryApp`] into `<body>`.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(gatehouse_frontend::app::DirectoryApp);
}
