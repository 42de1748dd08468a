//! Serving the SPA's three bundles: each page path gets the `index.html` of the bundle that
//! shows it (`gatehouse_shared::spa`), files are served from where the build put them, and API
//! paths never fall through to a page.

use reqwest::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn each_page_path_gets_its_bundles_page() {
    let dist = tempfile::tempdir().expect("a temporary directory");
    let root = dist.path();
    for (dir, page) in [
        ("", "everyday"),
        ("directory-app", "directory"),
        ("governance-app", "governance"),
    ] {
        std::fs::create_dir_all(root.join(dir)).expect("create the bundle's directory");
        std::fs::write(root.join(dir).join("index.html"), format!("<p>{page}</p>"))
            .expect("write a page");
    }
    std::fs::write(
        root.join("directory-app/directory-1.js"),
        "export const bundle = 'directory';",
    )
    .expect("write a script");
    let static_dir = root.to_path_buf();
    let app = TestApp::spawn_with(move |c| c.static_dir = static_dir).await;
    let browser = app.browser();

    for (path, page) in [
        ("/portal", "everyday"),
        ("/login?next=%2Faudit", "everyday"),
        ("/break-glass/bg-1", "everyday"),
        ("/admin/users", "directory"),
        ("/admin/groups/g-1", "directory"),
        ("/admin/permission-sets/ps-1", "directory"),
        ("/admin/simulator", "directory"),
        ("/admin/access-policies", "governance"),
        ("/admin/idps", "governance"),
        ("/admin/notifications", "governance"),
        ("/audit", "governance"),
        ("/audit/timeline/r-1?x=1", "governance"),
        // Not a page of either configuration bundle: the everyday bundle's "not found".
        ("/admin/nothing-here", "everyday"),
        ("/auditors", "everyday"),
    ] {
        let reply = browser.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(
            reply.body,
            format!("<p>{page}</p>"),
            "{path} is a page of the {page} bundle"
        );
    }

    let script = browser.get("/directory-app/directory-1.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(
        script.body.contains("bundle = 'directory'"),
        "{}",
        script.body
    );

    let api = browser.get("/api/v1/admin/users").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(
        api.body.contains("\"not_found\""),
        "an API path answers JSON: {}",
        api.body
    );
}
