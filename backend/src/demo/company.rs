//! The demo company: its people, teams, accounts, permission sets and rules. Plain data;
//! [`super::seed`] makes it through the same domain functions the API calls.

use gatehouse_shared::auth::Role;

/// A person: username, display name, what they are, what signing in as them shows.
pub struct Person {
    pub username: &'static str,
    pub display_name: &'static str,
    pub role: &'static str,
    pub shows: &'static str,
}

pub const PEOPLE: &[Person] = &[
    Person {
        username: "alice",
        display_name: "Alice Chen",
        role: "Engineer",
        shows: "The portal: read-only access to payments-prod, developer access to staging and \
                the sandbox, and a temporary Developer grant on payments-prod counting down. \
                Her request for Administrator on payments-prod waits under Requests.",
    },
    Person {
        username: "bob",
        display_name: "Bob Okafor",
        role: "Team lead and approver",
        shows: "Approvals: he approved Alice's grant and the first half of her Administrator \
                request. He is on call, so he holds Developer on payments-prod himself.",
    },
    Person {
        username: "carol",
        display_name: "Carol Diaz",
        role: "Auditor",
        shows: "The audit trail: three days of the company's history, searchable, \
                exportable, and verified against its signed checkpoints.",
    },
    Person {
        username: "dave",
        display_name: "Dave Kim",
        role: "Root custodian (finance)",
        shows: "Break-glass: he can ask for the payments-prod root credential; Frank and a \
                security custodian must approve (each enrols TOTP under My account first).",
    },
    Person {
        username: "frank",
        display_name: "Frank Moreau",
        role: "Root custodian (finance)",
        shows: "Break-glass approvals for the root password's half of the custody.",
    },
    Person {
        username: "erin",
        display_name: "Erin Novak",
        role: "Root custodian (security)",
        shows: "Break-glass approvals for the root MFA device's half of the custody.",
    },
    Person {
        username: "grace",
        display_name: "Grace Lee",
        role: "Root custodian (security)",
        shows: "The second security custodian: either she or Erin can approve.",
    },
];

/// A group: name, description, the Gatehouse roles it gives, its members.
pub struct Team {
    pub name: &'static str,
    pub description: &'static str,
    pub roles: &'static [Role],
    pub members: &'static [&'static str],
}

pub const TEAMS: &[Team] = &[
    Team {
        name: "engineering",
        description: "Demo: the engineers who run the payments service",
        roles: &[],
        members: &["alice", "bob"],
    },
    Team {
        name: "team-leads",
        description: "Demo: approve engineers' requests for production access",
        roles: &[],
        members: &["bob"],
    },
    Team {
        name: "on-call",
        description: "Demo: standing developer access to production for whoever is on call",
        roles: &[],
        members: &["bob"],
    },
    Team {
        name: "auditors",
        description: "Demo: read the audit trail and every request",
        roles: &[Role::Auditor],
        members: &["carol"],
    },
    Team {
        name: "root-custodians-finance",
        description: "Demo: hold the payments-prod root password",
        roles: &[],
        members: &["dave", "frank"],
    },
    Team {
        name: "root-custodians-security",
        description: "Demo: hold the payments-prod root MFA device",
        roles: &[],
        members: &["erin", "grace"],
    },
];

/// Cloud accounts on the `local` provider (Gatehouse's own STS): they work without a cloud.
pub const ACCOUNTS: &[(&str, &str, &str)] = &[
    (PROD, "payments-prod", "production"),
    ("1000000000000002", "payments-staging", "staging"),
    ("1000000000000003", "sandbox", "development"),
];

pub const PROD: &str = "1000000000000001";
pub const STAGING: &str = "1000000000000002";
pub const SANDBOX: &str = "1000000000000003";

/// Permission sets from read-only to administrator: name, description, system policies,
/// session length.
pub const PERMISSION_SETS: &[(&str, &str, &[&str], i64)] = &[
    (
        READ_ONLY,
        "Demo: look at everything, change nothing",
        &["ReadOnlyAccess"],
        4 * 3600,
    ),
    (
        DEVELOPER,
        "Demo: run and deploy the service (servers and storage)",
        &["AliyunECSFullAccess", "AliyunOSSFullAccess"],
        2 * 3600,
    ),
    (
        ADMINISTRATOR,
        "Demo: everything, for incidents only",
        &["AdministratorAccess"],
        3600,
    ),
];

pub const READ_ONLY: &str = "ReadOnly";
pub const DEVELOPER: &str = "Developer";
pub const ADMINISTRATOR: &str = "Administrator";

/// Standing access: group, account, permission set.
pub const ASSIGNMENTS: &[(&str, &str, &str)] = &[
    ("engineering", PROD, READ_ONLY),
    ("engineering", STAGING, DEVELOPER),
    ("engineering", SANDBOX, DEVELOPER),
    ("on-call", PROD, DEVELOPER),
    ("auditors", PROD, READ_ONLY),
];
