//! The SPA ships as three bundles so that nobody's first load carries every page: the
//! server sends each page path the `index.html` of the bundle that shows it, and a link
//! from one bundle's pages to another's is a full page load. Both sides read this table.

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

#[cfg(test)]
mod tests {
    use super::Bundle;

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
}
