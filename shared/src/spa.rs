//! The SPA ships as three bundles so that nobody's first load carries every page: the
//! server sends each page path the `index.html` of the bundle that shows it, and a link
//! from one bundle's pages to another's is a full page load. Both sides read this table.
//! Below the table: which `?next=` return path sign-in may go back to, and how one is made.

/// One of the SPA's bundles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bundle {
    /// What everyone uses: sign-in, portal, requests, approvals, break-glass, the root
    /// vault, my account. Every path not in [`PAGES`]; its files are at the static root.
    Everyday,
    /// People and what they may be given: users, groups, accounts, permission sets, the
    /// policy simulator.
    Directory,
    /// Rules and oversight: access policies, identity providers, notifications, the audit
    /// trail.
    Governance,
}

/// Page path prefixes (a whole path segment) and the bundle that shows them.
pub const PAGES: [(&str, Bundle); 9] = [
    ("/admin/users", Bundle::Directory),
    ("/admin/groups", Bundle::Directory),
    ("/admin/accounts", Bundle::Directory),
    ("/admin/permission-sets", Bundle::Directory),
    ("/admin/simulator", Bundle::Directory),
    ("/admin/access-policies", Bundle::Governance),
    ("/admin/idps", Bundle::Governance),
    ("/admin/notifications", Bundle::Governance),
    ("/audit", Bundle::Governance),
];

impl Bundle {
    /// Where the bundle's files sit under the static directory, and its public URL path:
    /// `""` for the root.
    pub fn dir(self) -> &'static str {
        match self {
            Bundle::Everyday => "",
            Bundle::Directory => "directory-app",
            Bundle::Governance => "governance-app",
        }
    }

    /// The bundle that shows `path` (which may carry a query or a fragment).
    pub fn of(path: &str) -> Bundle {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        PAGES
            .iter()
            .find(|(prefix, _)| {
                path.strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map_or(Bundle::Everyday, |(_, bundle)| *bundle)
    }
}

/// Accepts a return path only if it is a path on this site: one leading `/`, not `//` or
/// `/\` (which browsers treat as another host). Anything else becomes `/`.
///
/// The SPA's check on `?next=`, which it follows with its own router. The server's check
/// on the return path after single sign-on, which it answers with a redirect, is the
/// stricter [`crate::federation::safe_return_path`].
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(char::is_control) =>
        {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

/// `path` with its query string; the router gives the query without its `?`.
pub fn with_query(path: &str, search: &str) -> String {
    match search.trim_start_matches('?') {
        "" => path.to_string(),
        query => format!("{path}?{query}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{safe_next, with_query, Bundle};

    #[test]
    fn each_page_path_has_one_bundle() {
        assert_eq!(Bundle::of("/portal"), Bundle::Everyday);
        assert_eq!(Bundle::of("/login?next=%2Faudit"), Bundle::Everyday);
        assert_eq!(Bundle::of("/admin/users"), Bundle::Directory);
        assert_eq!(Bundle::of("/admin/groups/g-1"), Bundle::Directory);
        assert_eq!(
            Bundle::of("/admin/permission-sets/ps-1?tab=roles"),
            Bundle::Directory
        );
        assert_eq!(Bundle::of("/admin/access-policies"), Bundle::Governance);
        assert_eq!(Bundle::of("/audit"), Bundle::Governance);
        assert_eq!(Bundle::of("/audit?actor=admin"), Bundle::Governance);
        assert_eq!(Bundle::of("/audit/timeline/r-1"), Bundle::Governance);
        // Whole segments only: a lookalike is not the audit page.
        assert_eq!(Bundle::of("/auditors"), Bundle::Everyday);
        assert_eq!(Bundle::of("/admin/usersx"), Bundle::Everyday);
        assert_eq!(Bundle::of("/admin"), Bundle::Everyday);
    }

    #[test]
    fn the_return_path_keeps_its_query() {
        assert_eq!(
            with_query("/audit", "action=auth.login"),
            "/audit?action=auth.login"
        );
        assert_eq!(with_query("/audit", "?action=x"), "/audit?action=x");
        assert_eq!(with_query("/portal", ""), "/portal");
    }

    #[test]
    fn only_paths_on_this_site_are_accepted() {
        assert_eq!(safe_next(Some("/audit?actor=admin")), "/audit?actor=admin");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("javascript:alert(1)")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
