//! `gatehouse serve --demo`: a small company that shows every capability at once — people
//! in teams, three accounts on the `local` provider (they work without a cloud), permission
//! sets from read-only to administrator assigned through groups, an eligibility and a
//! two-approver policy, a request waiting for the administrator, a grant counting down, a
//! root vault entry in two custodian groups, a webhook endpoint, and three days of history.
//!
//! Everything is made through the domain functions the API calls, by the people of the
//! company signed in as themselves, at the times the story needs: the audit trail holds
//! what really happened to this database, each event from the demo's own user agent.
//! It is made only in a new database, and each thing it makes is recorded
//! ([`crate::store::DemoStore`]) so that [`remove`] can take it all away in one action.

mod company;
mod remove;
pub mod routes;

use std::collections::HashMap;

use gatehouse_shared::breakglass::CreateVaultEntry;
use gatehouse_shared::cloud::Provider;
use gatehouse_shared::demo::{DemoGuide, DemoPerson, DemoStep};
use gatehouse_shared::directory::{CreateAccount, CreateGroup, CreateUser};
use gatehouse_shared::notifications::CreateEndpoint;
use gatehouse_shared::permission_sets::{
    CreateAssignment, CreatePermissionSet, PrincipalType, ProvisionRequest,
};
use gatehouse_shared::requests::{
    ApprovalPolicyInput, CreateAccessRequest, DecisionKind, EligibilityPolicyInput, PrincipalKind,
};
use zeroize::Zeroizing;

use crate::access_requests::access_policies::{self, ApprovalPolicies, EligibilityPolicies};
use crate::access_requests::{decide_plan, Actor};
use crate::audit::ClientMeta;
use crate::auth::sessions::CurrentSession;
use crate::clock::Millis;
use crate::store::RequestSnapshot;
use crate::sts::{IssueRequest, Source};

pub use remove::remove;

use company::{ADMINISTRATOR, DEVELOPER, PROD, READ_ONLY, STAGING};

/// The demo people's shared password, printed at start-up and shown to administrators.
pub const DEMO_PASSWORD: &str = "gatehouse-demo-password";

/// How far back the demo's history begins.
pub const HISTORY_MS: i64 = 3 * DAY;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The user agent of everything the demo does, so its events say where they came from.
const USER_AGENT: &str = "gatehouse serve --demo";

/// What the demo works with: sign-in, and everything that makes and uses access.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub auth: crate::auth::login::Env<'a>,
    pub cloud: crate::cloud::Env<'a>,
}

/// Why removing the demo stopped: the refusing step's own error.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Directory(#[from] crate::directory::DirectoryError),
    #[error(transparent)]
    PermissionSet(#[from] crate::permission_sets::PermissionSetError),
    #[error(transparent)]
    Request(#[from] crate::access_requests::RequestError),
    #[error(transparent)]
    BreakGlass(#[from] crate::break_glass::BreakGlassError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Kinds of things the demo records as its own, in the order [`remove`] takes them away.
pub(crate) mod kind {
    pub const REQUEST: &str = "access_request";
    pub const ENDPOINT: &str = "notification_endpoint";
    pub const VAULT_ENTRY: &str = "vault_entry";
    pub const APPROVAL_POLICY: &str = "approval_policy";
    pub const ELIGIBILITY_POLICY: &str = "eligibility_policy";
    pub const ASSIGNMENT: &str = "assignment";
    pub const PERMISSION_SET: &str = "permission_set";
    pub const ACCOUNT: &str = "account";
    pub const GROUP: &str = "group";
    pub const USER: &str = "user";
}

/// Makes the demo company in a new database. `admin_password` is the bootstrap
/// administrator's, created at `start` (when the history begins); the story ends at `now`.
pub async fn seed(
    env: Env<'_>,
    admin_password: &str,
    start: Millis,
    now: Millis,
) -> anyhow::Result<()> {
    let mut s = Seeder {
        env,
        ids: HashMap::new(),
    };
    s.set_up(admin_password, start + 2 * MINUTE).await?;
    s.first_day(start + HOUR).await?;
    s.second_day(start + DAY + 5 * HOUR).await?;
    s.third_day(start + 2 * DAY + 3 * HOUR).await?;
    s.today(now).await?;
    println!(
        "Demo company made: sign in as alice (engineer), bob (approver), carol (auditor), \
         dave, frank, erin or grace (root custodians) with the password {DEMO_PASSWORD}; \
         as admin, the portal says what to try."
    );
    Ok(())
}

/// The guide administrators see while the demo company is there; `None` once it is gone.
pub async fn guide(
    store: &dyn crate::store::Store,
) -> crate::store::StoreResult<Option<DemoGuide>> {
    let objects = store.demo_objects().await?;
    if objects.is_empty() {
        return Ok(None);
    }
    Ok(Some(DemoGuide {
        password: DEMO_PASSWORD.into(),
        people: company::PEOPLE
            .iter()
            .map(|p| DemoPerson {
                username: p.username.into(),
                display_name: p.display_name.into(),
                role: p.role.into(),
                shows: p.shows.into(),
            })
            .collect(),
        try_first: [
            (
                "Approvals",
                "/approvals",
                "Alice asks for Administrator on payments-prod for an incident. Bob approved; \
                 the policy needs two, and you are the second approver.",
            ),
            (
                "Permission sets",
                "/admin/permission-sets",
                "Three sets from read-only to administrator, assigned through groups and \
                 provisioned in three accounts of the local provider.",
            ),
            (
                "Audit",
                "/audit",
                "Three days of the company's history; a request's timeline shows who asked, who \
                 decided and which credentials were taken. Verify checks the chain.",
            ),
            (
                "Root vault",
                "/vault",
                "The payments-prod root credential, in the custody of two groups of two.",
            ),
        ]
        .into_iter()
        .map(|(page, href, what)| DemoStep {
            page: page.into(),
            href: href.into(),
            what: what.into(),
        })
        .collect(),
        objects: objects.len(),
    }))
}

/// A new base32 TOTP seed for the demo root account's MFA device (160 bits).
fn totp_seed() -> String {
    use rand::Rng;
    const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| char::from(BASE32[rng.gen_range(0..BASE32.len())]))
        .collect()
}

/// Names what the demo made as it makes it.
struct Seeder<'a> {
    env: Env<'a>,
    /// `kind:name` → ID of what was made ("user:alice", "group:engineering", …).
    ids: HashMap<String, String>,
}

impl Seeder<'_> {
    fn id(&self, kind: &str, name: &str) -> anyhow::Result<String> {
        self.ids
            .get(&format!("{kind}:{name}"))
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the demo has no {kind} {name}"))
    }

    async fn made(&mut self, kind: &str, name: &str, id: String) -> anyhow::Result<()> {
        self.env.cloud.store.mark_demo(kind, &id).await?;
        self.ids.insert(format!("{kind}:{name}"), id);
        Ok(())
    }

    async fn sign_in(
        &self,
        username: &str,
        password: &str,
        at: Millis,
    ) -> anyhow::Result<CurrentSession> {
        let client = ClientMeta {
            ip: Some("127.0.0.1".into()),
            user_agent: Some(USER_AGENT.into()),
        };
        let signed_in = crate::auth::login::sign_in(
            self.env.auth,
            at,
            &client,
            username,
            Zeroizing::new(password.to_string()),
            None,
            None,
        )
        .await;
        self.checkpoint(at).await?;
        let signed_in = signed_in
            .map_err(|e| anyhow::anyhow!("the demo could not sign in as {username}: {e}"))?;
        Ok(signed_in.session)
    }

    /// Signs a checkpoint a few seconds after a step, as the running server's job would:
    /// the verifier expects one within minutes of every event.
    async fn checkpoint(&self, at: Millis) -> anyhow::Result<()> {
        self.env
            .cloud
            .store
            .checkpoint_if_due(at + 3_000, 0)
            .await?;
        Ok(())
    }

    async fn person(&self, username: &str, at: Millis) -> anyhow::Result<CurrentSession> {
        self.sign_in(username, DEMO_PASSWORD, at).await
    }

    async fn sign_out(&self, who: &CurrentSession, at: Millis) -> anyhow::Result<()> {
        crate::auth::login::sign_out(self.env.cloud.store, at, who).await?;
        self.checkpoint(at).await
    }

    /// The administrator builds the company, a few seconds a step.
    async fn set_up(&mut self, admin_password: &str, mut at: Millis) -> anyhow::Result<()> {
        let admin = self.sign_in("admin", admin_password, at).await?;
        let ctx = admin.ctx();
        let store = self.env.cloud.store;
        let mut tick = || {
            at += 5_000;
            at
        };
        for p in company::PEOPLE {
            let user = crate::directory::create_user(
                store,
                &self.env.auth.settings.password_hashing,
                tick(),
                &ctx,
                CreateUser {
                    username: p.username.into(),
                    email: format!("{}@example.com", p.username),
                    display_name: p.display_name.into(),
                    password: Some(DEMO_PASSWORD.into()),
                },
            )
            .await?;
            self.made(kind::USER, p.username, user.id).await?;
        }
        for t in company::TEAMS {
            let group = crate::directory::create_group(
                store,
                tick(),
                &ctx,
                CreateGroup {
                    name: t.name.into(),
                    description: t.description.into(),
                    roles: t.roles.to_vec(),
                },
            )
            .await?;
            for m in t.members {
                let user = self.id(kind::USER, m)?;
                crate::directory::add_member(store, tick(), &ctx, &group.id, &user).await?;
            }
            self.made(kind::GROUP, t.name, group.id).await?;
        }
        for (id, name, environment) in company::ACCOUNTS {
            let account = crate::directory::create_account(
                store,
                tick(),
                &ctx,
                CreateAccount {
                    id: (*id).into(),
                    name: (*name).into(),
                    environment: (*environment).into(),
                    provider: Provider::Local,
                    site: Default::default(),
                    region: None,
                },
            )
            .await?;
            self.made(kind::ACCOUNT, id, account.id).await?;
        }
        for (name, description, policies, secs) in company::PERMISSION_SETS {
            let set = crate::permission_sets::create_permission_set(
                store,
                tick(),
                &ctx,
                CreatePermissionSet {
                    name: (*name).into(),
                    description: (*description).into(),
                    session_duration_secs: Some(*secs),
                    relay_state: None,
                    system_policies: policies.iter().map(|p| (*p).to_string()).collect(),
                    inline_policy: None,
                },
            )
            .await?;
            self.made(kind::PERMISSION_SET, name, set.id).await?;
        }
        for (group, account, set) in company::ASSIGNMENTS {
            let assignment = crate::permission_sets::create_assignment(
                store,
                tick(),
                &ctx,
                CreateAssignment {
                    principal_type: PrincipalType::Group,
                    principal_id: self.id(kind::GROUP, group)?,
                    account_id: (*account).into(),
                    permission_set_id: self.id(kind::PERMISSION_SET, set)?,
                },
            )
            .await?;
            self.made(kind::ASSIGNMENT, &assignment.id.clone(), assignment.id)
                .await?;
        }
        // The eligibility policy first: its roles are provisioned with the assigned ones.
        self.policies(&ctx, tick()).await?;
        for (name, ..) in company::PERMISSION_SETS {
            let set = self.id(kind::PERMISSION_SET, name)?;
            crate::permission_sets::provision(
                self.env.cloud,
                tick(),
                &ctx,
                &set,
                ProvisionRequest { account_ids: None },
            )
            .await?;
        }
        let admin_id = admin.user.id.clone();
        let approvers = ApprovalPolicyInput {
            name: "Administrator on production: two approvers".into(),
            account_id: PROD.into(),
            permission_set_id: self.id(kind::PERMISSION_SET, ADMINISTRATOR)?,
            approver_group_ids: vec![self.id(kind::GROUP, "team-leads")?],
            approver_user_ids: vec![admin_id],
            approvals_needed: 2,
            rejections_to_end: 1,
            mfa_required: false,
            pending_lifetime_secs: 24 * 3600,
        };
        let policy =
            access_policies::create::<ApprovalPolicies>(store, tick(), &ctx, &approvers).await?;
        self.made(kind::APPROVAL_POLICY, "admin", policy.id).await?;

        let vault = crate::break_glass::create_vault(
            self.env.auth,
            tick(),
            &admin,
            CreateVaultEntry {
                account_id: PROD.into(),
                password: format!("demo-root-{}", crate::secrets::random_token(12)),
                totp_seed: totp_seed(),
                password_group_id: self.id(kind::GROUP, "root-custodians-finance")?,
                mfa_group_id: self.id(kind::GROUP, "root-custodians-security")?,
                password_approvals: Some(1),
                mfa_approvals: Some(1),
                window_secs: Some(3600),
            },
        )
        .await?;
        self.made(kind::VAULT_ENTRY, PROD, vault.id).await?;

        let (endpoint, _secret) = crate::notifications::create_endpoint(
            store,
            self.env.cloud.master,
            tick(),
            &ctx,
            CreateEndpoint {
                name: "Security team chat (demo: point it at your webhook, then enable it)".into(),
                url: "https://hooks.example.com/gatehouse".into(),
                event_types: vec!["access_request.create".into(), "breakglass.create".into()],
                enabled: false,
            },
        )
        .await?;
        self.made(kind::ENDPOINT, "chat", endpoint.id).await?;
        self.sign_out(&admin, tick()).await
    }

    /// Engineers may ask for Developer and Administrator on production; a team lead
    /// approves Developer.
    async fn policies(&mut self, ctx: &crate::audit::AuditCtx, at: Millis) -> anyhow::Result<()> {
        let store = self.env.cloud.store;
        let engineering = self.id(kind::GROUP, "engineering")?;
        let eligible = EligibilityPolicyInput {
            name: "Engineers: production on request".into(),
            principal_type: PrincipalKind::Group,
            principal_id: engineering,
            account_ids: vec![PROD.into()],
            permission_set_ids: vec![
                self.id(kind::PERMISSION_SET, DEVELOPER)?,
                self.id(kind::PERMISSION_SET, ADMINISTRATOR)?,
            ],
            max_duration_secs: 4 * 3600,
            approval_required: true,
            justification_required: true,
            ticket_required: false,
        };
        let policy =
            access_policies::create::<EligibilityPolicies>(store, at, ctx, &eligible).await?;
        self.made(kind::ELIGIBILITY_POLICY, "engineering", policy.id)
            .await?;
        let one = ApprovalPolicyInput {
            name: "Developer on production: a team lead".into(),
            account_id: PROD.into(),
            permission_set_id: self.id(kind::PERMISSION_SET, DEVELOPER)?,
            approver_group_ids: vec![self.id(kind::GROUP, "team-leads")?],
            approver_user_ids: vec![],
            approvals_needed: 1,
            rejections_to_end: 1,
            mfa_required: false,
            pending_lifetime_secs: 24 * 3600,
        };
        let policy =
            access_policies::create::<ApprovalPolicies>(store, at + 1_000, ctx, &one).await?;
        self.made(kind::APPROVAL_POLICY, "developer", policy.id)
            .await
    }

    /// Alice takes credentials for her standing access; Carol looks around.
    async fn first_day(&mut self, at: Millis) -> anyhow::Result<()> {
        let alice = self.person("alice", at).await?;
        self.credentials(&alice, PROD, READ_ONLY, at + 2 * MINUTE)
            .await?;
        self.credentials(&alice, STAGING, DEVELOPER, at + 9 * MINUTE)
            .await?;
        self.sign_out(&alice, at + 40 * MINUTE).await?;
        self.on_call(at + 2 * HOUR).await?;
        let carol = self.person("carol", at + 3 * HOUR).await?;
        self.credentials(&carol, PROD, READ_ONLY, at + 3 * HOUR + 4 * MINUTE)
            .await?;
        self.sign_out(&carol, at + 4 * HOUR).await
    }

    /// A hotfix: Alice asks for Developer on production, Bob approves, she deploys and
    /// ends the grant early.
    async fn second_day(&mut self, at: Millis) -> anyhow::Result<()> {
        self.on_call(at - 3 * HOUR).await?;
        let alice = self.person("alice", at).await?;
        let id = self
            .request(
                &alice,
                DEVELOPER,
                3600,
                "Deploy the hotfix for duplicate refunds",
                Some("PAY-1423"),
                at + MINUTE,
            )
            .await?;
        let bob = self.person("bob", at + 7 * MINUTE).await?;
        self.decide(
            &bob,
            &id,
            DecisionKind::Approve,
            "Go ahead; watch the refund error rate.",
            at + 8 * MINUTE,
        )
        .await?;
        self.sign_out(&bob, at + 10 * MINUTE).await?;
        self.credentials(&alice, PROD, DEVELOPER, at + 11 * MINUTE)
            .await?;
        self.end_grant(&alice, &id, at + 38 * MINUTE).await?;
        self.sign_out(&alice, at + 40 * MINUTE).await
    }

    /// Bob, on call, looks at production and staging.
    async fn on_call(&mut self, at: Millis) -> anyhow::Result<()> {
        let bob = self.person("bob", at).await?;
        self.credentials(&bob, PROD, DEVELOPER, at + MINUTE).await?;
        self.credentials(&bob, STAGING, DEVELOPER, at + 6 * MINUTE)
            .await?;
        self.sign_out(&bob, at + 30 * MINUTE).await
    }

    /// Alice mistypes her password, then asks for Administrator; Bob says no.
    async fn third_day(&mut self, at: Millis) -> anyhow::Result<()> {
        self.on_call(at - 2 * HOUR).await?;
        let wrong = self.sign_in("alice", "not-her-password", at).await;
        anyhow::ensure!(wrong.is_err(), "a wrong demo password was accepted");
        let alice = self.person("alice", at + 20_000).await?;
        let id = self
            .request(
                &alice,
                ADMINISTRATOR,
                3600,
                "Look through the RAM settings of production",
                None,
                at + 3 * MINUTE,
            )
            .await?;
        let bob = self.person("bob", at + HOUR).await?;
        self.decide(
            &bob,
            &id,
            DecisionKind::Reject,
            "Administrator is for incidents; ReadOnly shows the RAM settings.",
            at + HOUR + MINUTE,
        )
        .await?;
        self.sign_out(&bob, at + HOUR + 2 * MINUTE).await?;
        self.sign_out(&alice, at + 2 * HOUR).await
    }

    /// An incident: Alice holds Developer on production (ending in about 40 minutes) and
    /// has asked for Administrator, which Bob approved and the administrator must too.
    async fn today(&mut self, now: Millis) -> anyhow::Result<()> {
        let at = now - 20 * MINUTE;
        let alice = self.person("alice", at).await?;
        let grant = self
            .request(
                &alice,
                DEVELOPER,
                3600,
                "Find out why card payments fail",
                Some("INC-2291"),
                at + MINUTE,
            )
            .await?;
        let bob = self.person("bob", at + 3 * MINUTE).await?;
        self.decide(
            &bob,
            &grant,
            DecisionKind::Approve,
            "Approved for INC-2291.",
            at + 4 * MINUTE,
        )
        .await?;
        self.credentials(&alice, PROD, DEVELOPER, at + 5 * MINUTE)
            .await?;
        let pending = self
            .request(
                &alice,
                ADMINISTRATOR,
                3600,
                "Rotate the payment gateway's keys",
                Some("INC-2291"),
                at + 14 * MINUTE,
            )
            .await?;
        self.decide(
            &bob,
            &pending,
            DecisionKind::Approve,
            "Yes, with the gateway team on the call.",
            at + 16 * MINUTE,
        )
        .await?;
        self.sign_out(&bob, at + 17 * MINUTE).await?;
        self.sign_out(&alice, at + 18 * MINUTE).await
    }

    async fn credentials(
        &self,
        who: &CurrentSession,
        account: &str,
        set: &str,
        at: Millis,
    ) -> anyhow::Result<()> {
        let set = self.id(kind::PERMISSION_SET, set)?;
        crate::sts::issue(
            self.env.cloud,
            at,
            IssueRequest {
                user_id: &who.user.id,
                username: &who.user.username,
                session_name: &who.user.username,
                account_id: account,
                permission_set_id: &set,
                duration_secs: Some(3600),
                session_policy: None,
                source: Source::Portal,
                ctx: who.ctx(),
            },
            None,
        )
        .await?;
        self.checkpoint(at).await
    }

    async fn request(
        &mut self,
        who: &CurrentSession,
        set: &str,
        duration_secs: i64,
        justification: &str,
        ticket: Option<&str>,
        at: Millis,
    ) -> anyhow::Result<String> {
        let input = CreateAccessRequest {
            account_id: PROD.into(),
            permission_set_id: self.id(kind::PERMISSION_SET, set)?,
            duration_secs,
            justification: justification.into(),
            ticket: ticket.map(Into::into),
            start_at: None,
        };
        let snap =
            crate::access_requests::create(self.env.cloud.store, at, &Actor::of(who, at), &input)
                .await?;
        let id = snap.request.id;
        self.made(kind::REQUEST, &id.clone(), id.clone()).await?;
        self.checkpoint(at).await?;
        Ok(id)
    }

    async fn decide(
        &self,
        who: &CurrentSession,
        id: &str,
        decision: DecisionKind,
        comment: &str,
        at: Millis,
    ) -> anyhow::Result<()> {
        let me = Actor::of(who, at);
        let plan = |s: &RequestSnapshot| decide_plan(s, &me, decision, comment, at);
        self.env.cloud.store.transition_request(id, &plan).await?;
        crate::access_requests::step(self.env.cloud.store, at).await?;
        self.checkpoint(at).await
    }

    async fn end_grant(&self, who: &CurrentSession, id: &str, at: Millis) -> anyhow::Result<()> {
        let (store, sts) = (self.env.cloud.store, self.env.cloud.sts);
        crate::access_requests::close_grant(store, sts, &Actor::of(who, at), id, false, at).await?;
        self.checkpoint(at).await
    }
}
