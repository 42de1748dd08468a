//! The `aws` provider against moto's server (`e2e/aws`, IAM and STS), with access control
//! on: after the owner's three bootstrap calls every call must carry a SigV4 signature moto
//! recomputes and be allowed by the caller's IAM policies. The owner's steps and every check
//! of what a credential can do go through boto3 (`e2e/aws/boto_client.py`). moto verifies no
//! SAML signature, trust policy or condition: the assertion's signature is verified here
//! with xmlsec1 against the metadata's certificate, and what moto cannot show is said where
//! it matters (docs/CLOUD.md, "AWS").

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gatehouse::config::Config;
use gatehouse_shared::cloud::{ConsoleSignIn, Provider, SetupKit};
use gatehouse_shared::permission_sets::{PermissionSet, ProvisionedRole, ProvisioningStatus};
use gatehouse_shared::portal::IssuedCredentials;
use serde_json::{json, Value};

use crate::helpers::{Browser, TestApp, USER_PASSWORD};

/// moto's default account: the one its root bootstrap calls land in.
pub const ACCOUNT: &str = "123456789012";
const READ_IAM: &str = "arn:aws:iam::aws:policy/IAMReadOnlyAccess";
/// Lets a role session list account aliases: an IAM-language inline policy.
const INLINE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListAccountAliases","Resource":"*"}]}"#;
const RELAY: &str = "https://console.aws.amazon.com/iam/home";

fn e2e() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../e2e"))
}

fn python() -> PathBuf {
    let p = e2e().join("aws/.venv/bin/python");
    assert!(
        p.exists(),
        "the moto virtualenv is missing at {}: run scripts/install-test.sh",
        p.display()
    );
    p
}

/// moto on a free loopback port, stopped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// AWS credentials for boto3.
#[derive(Debug, Clone)]
pub struct Keys {
    pub ak: String,
    pub sk: String,
    pub token: Option<String>,
}

impl From<&IssuedCredentials> for Keys {
    fn from(c: &IssuedCredentials) -> Self {
        Self {
            ak: c.access_key_id.clone(),
            sk: c.access_key_secret.clone(),
            token: Some(c.security_token.clone()),
        }
    }
}

impl Moto {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready.json");
        let mut child = Command::new(python())
            .arg(e2e().join("aws/moto_gatehouse.py"))
            .args(["--quiet", "--no-auth-count", "3", "--ready-file"])
            .arg(&ready)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        for _ in 0..600 {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                if let Ok(v) = serde_json::from_str::<Value>(&text) {
                    let port = u16::try_from(v["port"].as_u64().unwrap()).unwrap();
                    return Self {
                        child,
                        port,
                        _dir: dir,
                    };
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("moto did not start");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs `boto_client.py <args…>` (with `keys`, if any); its one JSON line.
    pub async fn boto(&self, keys: Option<&Keys>, args: &[&str]) -> Value {
        let mut cmd = Command::new(python());
        cmd.arg(e2e().join("aws/boto_client.py"))
            .args(args)
            .args(["--endpoint", &self.url()]);
        if let Some(k) = keys {
            cmd.arg(format!("--ak={}", k.ak))
                .arg(format!("--sk={}", k.sk));
            if let Some(t) = &k.token {
                cmd.arg(format!("--token={t}"));
            }
        }
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
    }

    /// The owner's first calls, inside moto's no-auth window: an administrator's key.
    pub async fn bootstrap(&self) -> Keys {
        let v = self.boto(None, &["bootstrap"]).await;
        assert_eq!(v["ok"], true, "{v}");
        Keys {
            ak: v["ak"].as_str().unwrap().into(),
            sk: v["sk"].as_str().unwrap().into(),
            token: None,
        }
    }

    pub async fn call(&self, keys: &Keys, service: &str, action: &str, params: &Value) -> Value {
        self.boto(
            Some(keys),
            &["call", service, action, "--params", &params.to_string()],
        )
        .await
    }

    /// `boto_client.py chain-identity`: GetCallerIdentity with what boto3's default
    /// credential chain finds in an environment holding only `env` (a fresh `HOME`, no
    /// instance metadata), after the shell runs `exports` when given.
    pub async fn chain_identity(&self, env: &[(&str, &str)], exports: Option<&str>) -> Value {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = match exports {
            Some(lines) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("{lines}exec \"$0\" \"$@\""))
                    .arg(python());
                c
            }
            None => Command::new(python()),
        };
        cmd.arg(e2e().join("aws/boto_client.py"))
            .args(["chain-identity", "--endpoint", &self.url()])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().copied());
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
    }

    pub async fn role(&self, keys: &Keys, name: &str) -> Value {
        self.boto(Some(keys), &["role", name]).await
    }

    /// The next `count` calls of `action` are answered with AWS's error `code`.
    pub async fn fault(&self, action: &str, code: &str, count: u32) {
        let resp = reqwest::Client::new()
            .post(format!("{}/_gatehouse/faults", self.url()))
            .json(&json!({ "action": action, "code": code, "count": count }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }
}

/// Gatehouse pointed at moto (console sign-in keeps AWS's own endpoint: moto has none).
async fn gatehouse(moto: &Moto) -> TestApp {
    gatehouse_with(moto, |_| {}).await
}

/// The same, with more configuration.
pub async fn gatehouse_with(moto: &Moto, more: impl FnOnce(&mut Config)) -> TestApp {
    let url = moto.url();
    TestApp::spawn_with(move |c: &mut Config| {
        c.aws_sts_endpoint = Some(url.clone());
        c.aws_iam_endpoint = Some(url.clone());
        c.cloud_timeout_secs = 5;
        more(c);
    })
    .await
}

/// The owner applies the setup kit's API steps with boto3 and their administrator key.
pub async fn run_setup_kit(moto: &Moto, admin: &Browser, owner: &Keys) -> SetupKit {
    let kit: SetupKit = admin
        .get(&format!("/api/v1/accounts/{ACCOUNT}/setup-kit"))
        .await
        .assert_status(200)
        .json();
    assert_eq!(kit.provider, Provider::Aws);
    for step in &kit.steps {
        let params: serde_json::Map<String, Value> = step
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let v = moto
            .call(owner, &step.product, &step.action, &Value::Object(params))
            .await;
        assert_eq!(v["ok"], true, "{} failed: {v}", step.action);
    }
    kit
}

struct World {
    moto: Moto,
    app: TestApp,
    admin: Browser,
    alice: Browser,
    owner: Keys,
    ops: PermissionSet,
    kit: SetupKit,
}

async fn world() -> World {
    let moto = Moto::start().await;
    let owner = moto.bootstrap().await;
    let app = gatehouse(&moto).await;
    let admin = app.admin().await;
    admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": ACCOUNT, "name": "aws-prod", "environment": "production", "provider": "aws" }),
        )
        .await
        .assert_status(201);
    let kit = run_setup_kit(&moto, &admin, &owner).await;
    let alice_user = app.create_user_with_roles(&admin, "alice", &[]).await;
    // Both kinds of system policy: the AWS role attaches only the AWS one.
    let ops: PermissionSet = admin
        .post(
            "/api/v1/permission-sets",
            &json!({
                "name": "Ops",
                "session_duration_secs": 7200,
                "system_policies": [READ_IAM, "AliyunECSReadOnlyAccess"],
                "inline_policy": INLINE,
                "relay_state": RELAY,
            }),
        )
        .await
        .assert_status(201)
        .json();
    admin
        .post(
            "/api/v1/assignments",
            &json!({ "principal_type": "user", "principal_id": alice_user.id, "account_id": ACCOUNT, "permission_set_id": ops.id }),
        )
        .await
        .assert_status(201);
    let alice = app.browser();
    alice.sign_in("alice", USER_PASSWORD).await;
    World {
        moto,
        app,
        admin,
        alice,
        owner,
        ops,
        kit,
    }
}

async fn provision(admin: &Browser, ps: &PermissionSet) -> ProvisionedRole {
    let roles: Vec<ProvisionedRole> = admin
        .post(
            &format!("/api/v1/permission-sets/{}/provision", ps.id),
            &json!({}),
        )
        .await
        .assert_status(200)
        .json();
    roles.into_iter().next().unwrap()
}

async fn issue(w: &World) -> IssuedCredentials {
    w.alice
        .post(
            "/api/v1/portal/credentials",
            &json!({ "account_id": ACCOUNT, "permission_set_id": w.ops.id }),
        )
        .await
        .assert_status(200)
        .json()
}

/// Verifies a SAML Response's signed Assertion with xmlsec1 against `cert_b64` (DER,
/// base64, as the metadata publishes it).
fn xmlsec_verify(xml: &str, cert_b64: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let pem: String = cert_b64
        .as_bytes()
        .chunks(64)
        .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
        .collect();
    let cert = dir.path().join("idp.pem");
    std::fs::write(
        &cert,
        format!("-----BEGIN CERTIFICATE-----\n{pem}-----END CERTIFICATE-----\n"),
    )
    .unwrap();
    let file = dir.path().join("response.xml");
    std::fs::write(&file, xml).unwrap();
    Command::new("xmlsec1")
        .args([
            "--verify",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        ])
        .arg("--pubkey-cert-pem")
        .arg(&cert)
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("xmlsec1 (scripts/install-test.sh installs it)")
        .success()
}

fn metadata_certificate(metadata: &str) -> String {
    let start = metadata.find("<ds:X509Certificate>").unwrap() + "<ds:X509Certificate>".len();
    let end = metadata[start..].find("</ds:X509Certificate>").unwrap() + start;
    metadata[start..end].trim().to_string()
}

#[tokio::test]
async fn an_aws_account_from_setup_kit_to_credentials_console_revocation_and_drift() {
    let w = world().await;

    // The setup kit made the SAML provider and a provisioner role trusting it for AWS
    // sign-in only, with a policy on GatehouseSSO-* roles.
    let p = w.moto.role(&w.owner, "GatehouseProvisioner").await;
    assert_eq!(p["ok"], true, "{p}");
    assert_eq!(
        p["trust"]["Statement"][0]["Condition"]["StringEquals"]["SAML:aud"],
        "https://signin.aws.amazon.com/saml"
    );
    assert!(p["inline"]["GatehouseProvisionerPolicy"]
        .to_string()
        .contains("role/GatehouseSSO-*"));

    // Provisioning makes the role for real, every IAM call signed by the provisioner's
    // SAML session and allowed by its policy.
    let r = provision(&w.admin, &w.ops).await;
    assert_eq!(r.status, ProvisioningStatus::Provisioned, "{r:?}");
    assert_eq!(
        r.arn,
        format!("arn:aws:iam::{ACCOUNT}:role/GatehouseSSO-Ops")
    );
    let role = w.moto.role(&w.owner, "GatehouseSSO-Ops").await;
    assert_eq!(role["ok"], true, "{role}");
    assert_eq!(role["attached"], json!([READ_IAM]), "{role}");
    assert_eq!(role["role"]["MaxSessionDuration"], 7200);
    assert_eq!(
        role["inline"]["GatehouseSSO-inline"],
        serde_json::from_str::<Value>(INLINE).unwrap()
    );
    assert_eq!(
        role["trust"]["Statement"][0]["Principal"]["Federated"],
        format!("arn:aws:iam::{ACCOUNT}:saml-provider/Gatehouse")
    );

    // Portal credentials come from STS and are the assumed role there.
    let creds = issue(&w).await;
    assert!(
        creds.access_key_id.starts_with("ASIA"),
        "{}",
        creds.access_key_id
    );
    let keys = Keys::from(&creds);
    let who = w.moto.boto(Some(&keys), &["caller-identity"]).await;
    assert_eq!(who["ok"], true, "{who}");
    let arn = who["arn"].as_str().unwrap().to_string();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/GatehouseSSO-Ops/alice."
        )),
        "{arn}"
    );
    // What the role's policies allow, and nothing more (moto evaluates them).
    let list = w.moto.call(&keys, "iam", "ListRoles", &json!({})).await;
    assert_eq!(list["ok"], true, "{list}");
    let aliases = w
        .moto
        .call(&keys, "iam", "ListAccountAliases", &json!({}))
        .await;
    assert_eq!(aliases["ok"], true, "{aliases}");
    let denied = w
        .moto
        .call(
            &keys,
            "iam",
            "CreateUser",
            &json!({ "UserName": "mallory" }),
        )
        .await;
    assert_eq!(denied["code"], "AccessDenied", "{denied}");

    // Console sign-in: a form posting one signed assertion for that role to AWS's SAML
    // sign-in endpoint (moto has no sign-in page: the assertion is checked here).
    let signin: ConsoleSignIn = w
        .alice
        .post(
            "/api/v1/portal/console",
            &json!({ "account_id": ACCOUNT, "permission_set_id": w.ops.id }),
        )
        .await
        .assert_status(200)
        .json();
    assert_eq!(signin.method, "POST");
    assert_eq!(signin.url, "https://signin.aws.amazon.com/saml");
    let field = |n: &str| {
        signin
            .fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("RelayState").as_deref(), Some(RELAY));
    use base64::Engine as _;
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(field("SAMLResponse").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(
        xml.contains(&format!(
            "<saml:AttributeValue>arn:aws:iam::{ACCOUNT}:role/GatehouseSSO-Ops,arn:aws:iam::{ACCOUNT}:saml-provider/Gatehouse</saml:AttributeValue>"
        )),
        "{xml}"
    );
    assert!(xml.contains("Recipient=\"https://signin.aws.amazon.com/saml\""));
    assert!(xml.contains("Destination=\"https://signin.aws.amazon.com/saml\""));
    assert!(xml.contains("<saml:Audience>urn:amazon:webservices</saml:Audience>"));
    assert!(xml.contains("https://aws.amazon.com/SAML/Attributes/RoleSessionName"));
    assert!(xml.contains(
        "<saml:Attribute Name=\"https://aws.amazon.com/SAML/Attributes/SessionDuration\"><saml:AttributeValue>7200<"
    ));
    let cert = metadata_certificate(&w.kit.metadata_xml);
    assert!(
        xmlsec_verify(&xml, &cert),
        "the assertion's signature does not verify"
    );
    // The check means something: another role in the same assertion fails it.
    let forged = xml.replace("role/GatehouseSSO-Ops,", "role/GatehouseProvisioner,");
    assert_ne!(forged, xml);
    assert!(!xmlsec_verify(&forged, &cert));

    // Revocation: the role gets AWS's "revoke older sessions" deny for that session from
    // the next job tick on; moto then refuses the session.
    w.admin
        .delete(&format!("/api/v1/sts-credentials/{}", creds.access_key_id))
        .await
        .assert_status(204);
    gatehouse::app::tick(&w.app.state).await.unwrap();
    let role = w.moto.role(&w.owner, "GatehouseSSO-Ops").await;
    let deny = &role["inline"]["GatehouseRevokedSessions"]["Statement"][0];
    assert_eq!(deny["Effect"], "Deny", "{role}");
    assert_eq!(
        deny["Condition"]["StringLike"]["aws:userid"],
        json!([format!("*:{}", arn.rsplit('/').next().unwrap())]),
        "{deny}"
    );
    assert!(deny["Condition"]["DateLessThan"]["aws:TokenIssueTime"].is_string());
    let after = w.moto.call(&keys, "iam", "ListRoles", &json!({})).await;
    assert_eq!(after["code"], "AccessDenied", "{after}");

    // Drift: a policy detached behind Gatehouse's back is found, and re-provisioning
    // repairs it without touching the revocation.
    let v = w
        .moto
        .call(
            &w.owner,
            "iam",
            "DetachRolePolicy",
            &json!({ "RoleName": "GatehouseSSO-Ops", "PolicyArn": READ_IAM }),
        )
        .await;
    assert_eq!(v["ok"], true, "{v}");
    w.app.clock.advance_ms(16 * 60 * 1000);
    gatehouse::app::tick(&w.app.state).await.unwrap();
    let roles: Vec<ProvisionedRole> = w
        .admin
        .get(&format!("/api/v1/permission-sets/{}/roles", w.ops.id))
        .await
        .assert_status(200)
        .json();
    assert_eq!(roles[0].status, ProvisioningStatus::Drifted, "{roles:?}");
    assert!(
        roles[0]
            .drift
            .iter()
            .any(|d| d.contains("IAMReadOnlyAccess")),
        "{roles:?}"
    );
    assert_eq!(
        provision(&w.admin, &w.ops).await.status,
        ProvisioningStatus::Provisioned
    );
    let role = w.moto.role(&w.owner, "GatehouseSSO-Ops").await;
    assert_eq!(role["attached"], json!([READ_IAM]));
    assert!(role["inline"]["GatehouseRevokedSessions"].is_object());

    // Once the revoked token has expired, the job takes the deny away.
    w.app.clock.advance_ms(3 * 3600 * 1000);
    gatehouse::app::tick(&w.app.state).await.unwrap();
    let role = w.moto.role(&w.owner, "GatehouseSSO-Ops").await;
    assert!(
        role["inline"].get("GatehouseRevokedSessions").is_none(),
        "{role}"
    );

    // Every call is audited with AWS's RequestId, and no secret is in the trail.
    let trail: Vec<gatehouse::audit::StoredEvent> = w.app.all_events().await;
    let text = format!("{trail:?}");
    assert!(text.contains("CreateRole") && text.contains("AssumeRoleWithSAML"));
    assert!(text.contains("request_id"));
    assert!(
        !text.contains(&creds.access_key_secret) && !text.contains(&creds.security_token),
        "a secret is in the audit trail"
    );
    assert!(!text.contains(&field("SAMLResponse").unwrap()[..64]));
}

#[tokio::test]
async fn throttling_is_retried_and_refusals_are_failures_with_awss_code() {
    let w = world().await;
    // Throttling twice, then through: provisioned, the call audited with its attempts.
    w.moto.fault("CreateRole", "Throttling", 2).await;
    let r = provision(&w.admin, &w.ops).await;
    assert_eq!(r.status, ProvisioningStatus::Provisioned, "{r:?}");
    let calls: Vec<Value> = w
        .app
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.action == "cloud.api.call")
        .map(|e| serde_json::from_str(&e.details).unwrap())
        .collect();
    let create = calls.iter().find(|c| c["action"] == "CreateRole").unwrap();
    assert_eq!(create["attempts"], 3, "{create}");
    assert!(create["code"].is_null() && create["request_id"].is_string());

    // A managed policy AWS does not have (retired after the catalogue was written): the
    // role fails with AWS's code and the action, and is not called provisioned.
    let ev = gatehouse::audit::NewEvent::named(
        w.app.now_ms(),
        &gatehouse::audit::AuditCtx::system(),
        "test.retired_policy",
        "permission_set",
        None,
    );
    w.app
        .state
        .store
        .update_permission_set(
            &w.ops.id,
            gatehouse::store::PermissionSetChange {
                description: None,
                session_duration_secs: None,
                relay_state: None,
                system_policies: Some(
                    json!([READ_IAM, "arn:aws:iam::aws:policy/GatehouseNoSuchPolicy"]).to_string(),
                ),
                inline_policy: None,
                at: w.app.now_ms(),
            },
            ev,
        )
        .await
        .unwrap();
    let r = provision(&w.admin, &w.ops).await;
    assert_eq!(r.status, ProvisioningStatus::Failed, "{r:?}");
    let fault = r.fault.expect("a fault");
    assert_eq!(fault.code, "NoSuchEntity", "{fault:?}");
    assert_eq!(fault.action.as_deref(), Some("AttachRolePolicy"));

    // The owner takes the provisioner's policy away: AccessDenied, failed, said plainly.
    let v = w
        .moto
        .call(
            &w.owner,
            "iam",
            "DeleteRolePolicy",
            &json!({ "RoleName": "GatehouseProvisioner", "PolicyName": "GatehouseProvisionerPolicy" }),
        )
        .await;
    assert_eq!(v["ok"], true, "{v}");
    w.admin
        .patch(
            &format!("/api/v1/permission-sets/{}", w.ops.id),
            &json!({ "system_policies": [READ_IAM], "session_duration_secs": 10800 }),
        )
        .await
        .assert_status(200);
    let r = provision(&w.admin, &w.ops).await;
    assert_eq!(r.status, ProvisioningStatus::Failed, "{r:?}");
    assert_eq!(r.fault.unwrap().code, "AccessDenied");
}

#[tokio::test]
async fn aws_accounts_take_twelve_digit_ids_and_iam_policies() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // An Alibaba-length ID on an aws account: a field error, not a 500 or a 400.
    let e = admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": "1111222233334444", "name": "a", "environment": "dev", "provider": "aws" }),
        )
        .await;
    e.assert_error(422, "validation_failed");
    assert_eq!(e.fields(), vec!["id".to_string()]);
    assert!(e.value().to_string().contains("12 digits"), "{}", e.value());
    // An AWS-length ID on an Alibaba Cloud account, likewise.
    admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": ACCOUNT, "name": "a", "environment": "dev", "provider": "alibaba" }),
        )
        .await
        .assert_error(422, "validation_failed");
    let a: Value = admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": ACCOUNT, "name": "a", "environment": "dev", "provider": "aws" }),
        )
        .await
        .assert_status(201)
        .value();
    assert_eq!(a["provider"], "aws");
    // A 16-digit local account cannot become an aws one.
    admin
        .post(
            "/api/v1/accounts",
            &json!({ "id": "1111222233334444", "name": "b", "environment": "dev" }),
        )
        .await
        .assert_status(201);
    let e = admin
        .patch(
            "/api/v1/accounts/1111222233334444",
            &json!({ "provider": "aws" }),
        )
        .await;
    e.assert_error(422, "validation_failed");
    assert_eq!(e.fields(), vec!["provider".to_string()]);

    // The kit names AWS's own tools.
    let kit: SetupKit = admin
        .get(&format!("/api/v1/accounts/{ACCOUNT}/setup-kit"))
        .await
        .assert_status(200)
        .json();
    assert!(kit.cli.contains("aws iam create-saml-provider"));
    assert!(kit.terraform.contains("aws_iam_saml_provider"));
    assert!(kit.ros_template.contains("AWS::IAM::SAMLProvider"));
    assert_eq!(
        kit.provisioner_role_arn,
        format!("arn:aws:iam::{ACCOUNT}:role/GatehouseProvisioner")
    );

    // Inline policies in IAM's language are checked as IAM's; unknown AWS policies refused.
    let e = admin
        .post(
            "/api/v1/permission-sets",
            &json!({ "name": "Bad", "inline_policy": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}"# }),
        )
        .await;
    e.assert_error(422, "validation_failed");
    assert_eq!(e.fields(), vec!["inline_policy".to_string()]);
    let e = admin
        .post(
            "/api/v1/permission-sets",
            &json!({ "name": "Bad", "system_policies": ["arn:aws:iam::aws:policy/NoSuchPolicy"] }),
        )
        .await;
    e.assert_error(422, "validation_failed");
    assert_eq!(e.fields(), vec!["system_policies".to_string()]);
}

/// Credentials of an `aws` account in AWS's forms, each used by boto3 against moto: the
/// shell exports, the AWS CLI profile's `credential_process` (`gatehouse credentials
/// --uri`), and the `credentials_uri` as `AWS_CONTAINER_CREDENTIALS_FULL_URI` (with and
/// without `AWS_CONTAINER_AUTHORIZATION_TOKEN`, which must be the URL's token).
#[tokio::test]
async fn aws_credentials_work_in_boto3_as_exports_credential_process_and_container_credentials() {
    let w = world().await;
    assert_eq!(
        provision(&w.admin, &w.ops).await.status,
        ProvisioningStatus::Provisioned
    );
    let assumed = format!("arn:aws:sts::{ACCOUNT}:assumed-role/GatehouseSSO-Ops/alice.");

    // The portal's formats are AWS's.
    let creds = issue(&w).await;
    let f = &creds.formats;
    assert!(
        f.shell.contains(&format!(
            "export AWS_ACCESS_KEY_ID='{}'\n",
            creds.access_key_id
        )),
        "{}",
        f.shell
    );
    assert!(f.shell.contains("export AWS_SECRET_ACCESS_KEY='"));
    assert!(f.shell.contains("export AWS_SESSION_TOKEN='"));
    assert!(!f.shell.contains("ALIBABA"), "{}", f.shell);
    assert_eq!(f.aliyun_cli, "");
    let profile = f.aws_cli.clone().expect("an AWS CLI profile");
    assert!(
        profile.contains(&format!("[profile gatehouse-{ACCOUNT}-Ops]\n")),
        "{profile}"
    );
    assert!(
        profile.contains("credential_process = gatehouse credentials --uri <credentials-url>\n"),
        "{profile}"
    );
    let process: Value = serde_json::from_str(&f.credential_process).unwrap();
    assert_eq!(process["Version"], 1);
    assert_eq!(process["AccessKeyId"], creds.access_key_id.as_str());
    assert_eq!(process["SecretAccessKey"], creds.access_key_secret.as_str());
    assert_eq!(process["SessionToken"], creds.security_token.as_str());

    // The export lines, run by a shell, are what boto3's environment provider reads.
    let v = w.moto.chain_identity(&[], Some(&f.shell)).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["method"], "env", "{v}");
    assert!(v["arn"].as_str().unwrap().starts_with(&assumed), "{v}");

    // A credentials URL, in the profile the portal gave (with this build's binary).
    let uri: Value = w
        .alice
        .post(
            "/api/v1/portal/credential-uris",
            &json!({ "account_id": ACCOUNT, "permission_set_id": w.ops.id }),
        )
        .await
        .assert_status(201)
        .value();
    let url = uri["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let token = url.rsplit('/').next().unwrap().to_string();
    let section: String = profile
        .lines()
        .skip_while(|l| !l.starts_with("[profile "))
        .take_while(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let config = section
        .replace(
            "= gatehouse credentials",
            &format!("= {} credentials", crate::helpers::gatehouse_bin()),
        )
        .replace("<credentials-url>", &url);
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("config");
    std::fs::write(&config_file, &config).unwrap();
    let profile_name = format!("gatehouse-{ACCOUNT}-Ops");
    let v = w
        .moto
        .chain_identity(
            &[
                ("AWS_CONFIG_FILE", config_file.to_str().unwrap()),
                ("AWS_PROFILE", &profile_name),
            ],
            None,
        )
        .await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["method"], "custom-process", "{v}");
    assert!(v["arn"].as_str().unwrap().starts_with(&assumed), "{v}");

    // The same URL is the container-credentials endpoint: alone, and with its token as
    // the Authorization the SDK sends.
    let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    for k in ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"] {
        assert!(body[k].is_string(), "{k} missing");
    }
    for env in [
        vec![("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str())],
        vec![
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.as_str()),
        ],
    ] {
        let v = w.moto.chain_identity(&env, None).await;
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["method"], "container-role", "{v}");
        assert!(v["arn"].as_str().unwrap().starts_with(&assumed), "{v}");
    }
    // Another token as Authorization is refused, by the endpoint and so by boto3.
    let wrong = format!("gh_cu_{}", "x".repeat(43));
    let resp = reqwest::Client::new()
        .get(&url)
        .header("Authorization", &wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let refused: Value = resp.json().await.unwrap();
    assert_eq!(refused["Code"], "InvalidAuthorization", "{refused}");
    assert!(refused.get("AccessKeyId").is_none());
    let v = w
        .moto
        .chain_identity(
            &[
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str()),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", wrong.as_str()),
            ],
            None,
        )
        .await;
    assert_eq!(v["ok"], false, "{v}");
    assert!(!v.to_string().contains(&token), "{v}");

    // Audited as refused, and neither the URL's token nor a secret is in the trail.
    let trail = w.app.all_events().await;
    assert!(trail.iter().any(|e| e.action == "sts.credentials.issue"
        && e.details.contains("credentials_uri")
        && format!("{e:?}").contains("InvalidAuthorization")));
    let text = format!("{trail:?}");
    assert!(
        !text.contains(&token),
        "the URL's token is in the audit trail"
    );
    assert!(
        !text.contains(&creds.access_key_secret) && !text.contains(&creds.security_token),
        "a secret is in the audit trail"
    );
}

/// A just-in-time grant on an `aws` account: STS credentials only while it is active, and
/// ending it early attaches the revoked-sessions deny for its session to the role.
#[tokio::test]
async fn an_aws_grant_issues_credentials_only_while_active_and_its_early_end_denies_them() {
    let w = world().await;
    assert_eq!(
        provision(&w.admin, &w.ops).await.status,
        ProvisioningStatus::Provisioned
    );
    let bob_user = w.app.create_user_with_roles(&w.admin, "bob", &[]).await;
    let bob = w.app.browser();
    bob.sign_in("bob", USER_PASSWORD).await;
    let body = json!({ "account_id": ACCOUNT, "permission_set_id": w.ops.id });
    bob.post("/api/v1/portal/credentials", &body)
        .await
        .assert_error(403, "forbidden");
    w.admin
        .post(
            "/api/v1/eligibility-policies",
            &json!({
                "name": "bob self-service",
                "principal_type": "user",
                "principal_id": bob_user.id,
                "account_ids": [ACCOUNT],
                "permission_set_ids": [w.ops.id],
                "max_duration_secs": 3600,
                "approval_required": false,
                "justification_required": false,
            }),
        )
        .await
        .assert_status(201);
    let grant: Value = bob
        .post(
            "/api/v1/requests",
            &json!({ "account_id": ACCOUNT, "permission_set_id": w.ops.id, "duration_secs": 1800, "justification": "" }),
        )
        .await
        .assert_status(201)
        .value();
    assert_eq!(grant["state"], "active", "{grant}");
    let creds: IssuedCredentials = bob
        .post("/api/v1/portal/credentials", &body)
        .await
        .assert_status(200)
        .json();
    let keys = Keys::from(&creds);
    let who = w.moto.boto(Some(&keys), &["caller-identity"]).await;
    assert_eq!(who["ok"], true, "{who}");
    let arn = who["arn"].as_str().unwrap().to_string();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/GatehouseSSO-Ops/bob."
        )),
        "{arn}"
    );
    assert_eq!(
        w.moto.call(&keys, "iam", "ListRoles", &json!({})).await["ok"],
        true
    );
    // Never past the grant's end (moto dates the credentials by the real clock, which runs
    // ahead of the test server's).
    let real_now = gatehouse::clock::Clock::now_ms(&gatehouse::clock::SystemClock);
    let left = creds.expiration - gatehouse::clock::to_datetime(real_now);
    assert!(left.whole_seconds() <= 1800 + 5, "{left}");

    // Ended early: the role gets the deny for bob's session, and moto refuses it.
    w.admin
        .post(
            &format!("/api/v1/requests/{}/revoke", grant["id"].as_str().unwrap()),
            &json!({}),
        )
        .await
        .assert_status(200);
    gatehouse::app::tick(&w.app.state).await.unwrap();
    let role = w.moto.role(&w.owner, "GatehouseSSO-Ops").await;
    let deny = &role["inline"]["GatehouseRevokedSessions"]["Statement"][0];
    assert_eq!(deny["Effect"], "Deny", "{role}");
    assert_eq!(
        deny["Condition"]["StringLike"]["aws:userid"],
        json!([format!("*:{}", arn.rsplit('/').next().unwrap())]),
        "{deny}"
    );
    let after = w.moto.call(&keys, "iam", "ListRoles", &json!({})).await;
    assert_eq!(after["code"], "AccessDenied", "{after}");
    // And no new credentials from the ended grant.
    bob.post("/api/v1/portal/credentials", &body)
        .await
        .assert_error(403, "forbidden");
}

/// A person signed in through a real SAML IdP (pysaml2) gets, through their group's
/// assignment, credentials moto accepts as the assumed role.
#[tokio::test]
async fn a_person_signed_in_through_saml_gets_aws_credentials() {
    let w = world().await;
    let (_idp_proc, idp) = crate::saml_http::setup(&w.app).await;
    let groups: Vec<Value> = w
        .admin
        .get("/api/v1/groups")
        .await
        .assert_status(200)
        .json();
    let engineers = groups.iter().find(|g| g["name"] == "engineers").unwrap();
    w.admin
        .post(
            "/api/v1/assignments",
            &json!({ "principal_type": "group", "principal_id": engineers["id"], "account_id": ACCOUNT, "permission_set_id": w.ops.id }),
        )
        .await
        .assert_status(201);
    assert_eq!(
        provision(&w.admin, &w.ops).await.status,
        ProvisioningStatus::Provisioned
    );
    let http = crate::saml_http::browser();
    let landed = crate::saml_http::sign_in_through_idp(
        &w.app,
        &idp,
        &http,
        "&user=carol&group=engineers&sign=assertion",
    )
    .await;
    assert_eq!(landed.status.as_u16(), 303, "{}", landed.body);
    let me = crate::saml_http::me(&w.app, &http).await.value();
    let csrf = me["csrf_token"].as_str().unwrap().to_string();
    let reply = crate::helpers::Reply::read(
        http.post(format!("{}/api/v1/portal/credentials", w.app.base_url))
            .header("X-CSRF-Token", csrf)
            .header("Origin", w.app.base_url.clone())
            .json(&json!({ "account_id": ACCOUNT, "permission_set_id": w.ops.id }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let creds: IssuedCredentials = reply.assert_status(200).json();
    let who = w
        .moto
        .boto(Some(&Keys::from(&creds)), &["caller-identity"])
        .await;
    assert_eq!(who["ok"], true, "{who}");
    let arn = who["arn"].as_str().unwrap_or_default();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/GatehouseSSO-Ops/carol@example.com."
        )),
        "{who}"
    );
}
