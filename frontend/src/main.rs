//! The everyday bundle: mounts [`gatehouse_frontend::app::PortalApp`] into `<body>`.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(gatehouse_frontend::app::PortalApp);
}
