//! The one-time setup kit of an AWS account: what its owner runs so that Gatehouse can work
//! there without an access key. It creates the IAM SAML provider `Gatehouse` from
//! Gatehouse's IdP metadata, and the role `GatehouseProvisioner` that trusts it (for the AWS
//! sign-in audience only), with an inline least-privilege policy: managing `GatehouseSSO-*`
//! roles, their inline policies, and attaching AWS managed policies to them. The same steps
//! come as API calls, `aws` CLI commands, a Terraform file and a CloudFormation template
//! (in the kit's `ros_template` field). The kit of the account that starts break-glass root
//! sessions (`GATEHOUSE_AWS_ROOT_SESSIONS_ACCOUNT`) also lets the provisioner call
//! `sts:AssumeRoot` with AWS's five root-task policies, and says how to turn on centralized
//! root access for the organization.

use gatehouse_shared::breakglass::RootTask;
use gatehouse_shared::cloud::{AlibabaSite, Provider, SetupKit, SetupStep};
use serde_json::{json, Value};

use super::{provisioner_role_arn, saml_provider_arn};
use crate::cloud::{PROVISIONER_ROLE, SAML_PROVIDER_NAME};
use crate::store::AccountRecord;

pub const POLICY_NAME: &str = "GatehouseProvisionerPolicy";
/// The root-sessions account's second inline policy.
pub const ROOT_POLICY_NAME: &str = "GatehouseRootSessions";
/// What turns on centralized root access, run once in the organization's management account.
const ORGANIZATION_COMMANDS: &str =
    "aws organizations enable-aws-service-access --service-principal iam.amazonaws.com\n\
     aws iam enable-organizations-root-credentials-management\n\
     aws iam enable-organizations-root-sessions\n";
const DESCRIPTION: &str = "Gatehouse: SAML role-based SSO and provisioning of GatehouseSSO-* roles";

/// What the provisioner may do: manage `GatehouseSSO-*` roles and their inline policies,
/// attach AWS managed policies (only) to them, detach any. Nothing else: no other role, no
/// user, no customer managed policy (Gatehouse writes a permission set's own policy inline).
pub fn provisioner_policy(account_id: &str) -> Value {
    let roles = format!("arn:aws:iam::{account_id}:role/GatehouseSSO-*");
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ManageGatehouseRoles",
                "Effect": "Allow",
                "Action": ["iam:GetRole", "iam:CreateRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy",
                           "iam:DeleteRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies",
                           "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                           "iam:DetachRolePolicy"],
                "Resource": [roles.clone()]
            },
            {
                "Sid": "AttachAwsManagedPoliciesOnly",
                "Effect": "Allow",
                "Action": ["iam:AttachRolePolicy"],
                "Resource": [roles],
                "Condition": { "ArnLike": { "iam:PolicyARN": ["arn:aws:iam::aws:policy/*"] } }
            }
        ]
    })
}

/// What the root-sessions account's provisioner may do besides: `sts:AssumeRoot`, with
/// AWS's five root-task policies only (the task a break-glass request names). AWS lets the
/// management account (or the delegated administrator) reach member accounts only.
pub fn root_sessions_policy() -> Value {
    let tasks: Vec<&str> = RootTask::ALL.iter().map(|t| t.aws_policy_arn()).collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "StartTaskScopedRootSessions",
            "Effect": "Allow",
            "Action": ["sts:AssumeRoot"],
            "Resource": ["*"],
            "Condition": { "StringEquals": { "sts:TaskPolicyArn": tasks } }
        }]
    })
}

/// The provisioner role's trust policy: Gatehouse's SAML provider, for AWS's sign-in
/// audience (`SAML:aud`), as every `GatehouseSSO-*` role's.
pub fn provisioner_trust(account_id: &str) -> Value {
    super::trust_policy(account_id)
}

fn step(action: &str, params: &[(&str, String)], description: &str) -> SetupStep {
    SetupStep {
        product: "iam".into(),
        version: super::iam::VERSION.into(),
        action: action.into(),
        parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        description: description.into(),
    }
}

/// Single quotes for a POSIX shell.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The kit for `account`, with the metadata as published now; `root_sessions` when the
/// account is the one that starts root sessions in the others.
pub fn kit(
    account: &AccountRecord,
    metadata_url: &str,
    metadata_xml: &str,
    root_sessions: bool,
) -> SetupKit {
    let policy = provisioner_policy(&account.id);
    let trust = provisioner_trust(&account.id);
    let root = root_sessions.then(root_sessions_policy);
    let mut steps = vec![
        step(
            "CreateSAMLProvider",
            &[
                ("Name", SAML_PROVIDER_NAME.into()),
                ("SAMLMetadataDocument", metadata_xml.into()),
            ],
            "Trust Gatehouse as a SAML identity provider.",
        ),
        step(
            "CreateRole",
            &[
                ("RoleName", PROVISIONER_ROLE.into()),
                ("AssumeRolePolicyDocument", trust.to_string()),
                ("Description", DESCRIPTION.into()),
                ("MaxSessionDuration", "3600".into()),
            ],
            "The role Gatehouse assumes through SAML to provision; no access key is created.",
        ),
        step(
            "PutRolePolicy",
            &[
                ("RoleName", PROVISIONER_ROLE.into()),
                ("PolicyName", POLICY_NAME.into()),
                ("PolicyDocument", policy.to_string()),
            ],
            "What Gatehouse may do: manage GatehouseSSO-* roles only.",
        ),
    ];
    if let Some(root) = &root {
        steps.push(step(
            "PutRolePolicy",
            &[
                ("RoleName", PROVISIONER_ROLE.into()),
                ("PolicyName", ROOT_POLICY_NAME.into()),
                ("PolicyDocument", root.to_string()),
            ],
            "This account starts break-glass root sessions: sts:AssumeRoot on member \
             accounts, with AWS's root-task policies only. Centralized root access must be \
             on in the organization (see the CLI commands).",
        ));
    }
    SetupKit {
        account_id: account.id.clone(),
        provider: Provider::Aws,
        site: AlibabaSite::default(),
        saml_provider_name: SAML_PROVIDER_NAME.into(),
        saml_provider_arn: saml_provider_arn(&account.id),
        provisioner_role_arn: provisioner_role_arn(&account.id),
        metadata_url: metadata_url.into(),
        metadata_xml: metadata_xml.into(),
        cli: cli(account, metadata_xml, &policy, &trust, root.as_ref()),
        terraform: terraform(account, &policy, &trust, root.as_ref()),
        ros_template: cloudformation(metadata_xml, &policy, &trust, root.as_ref()),
        steps,
    }
}

fn cli(
    account: &AccountRecord,
    metadata_xml: &str,
    policy: &Value,
    trust: &Value,
    root: Option<&Value>,
) -> String {
    let mut text = format!(
        "#!/bin/sh\n\
         # Gatehouse setup for AWS account {id}. Run once with the aws CLI, signed in as an\n\
         # administrator of the account. It creates no access key.\n\
         set -eu\n\
         cat > gatehouse-idp-metadata.xml <<'GATEHOUSE_METADATA'\n{metadata}GATEHOUSE_METADATA\n\n\
         aws iam create-saml-provider --name {provider} \\\n  \
         --saml-metadata-document file://gatehouse-idp-metadata.xml\n\n\
         aws iam create-role --role-name {role} --max-session-duration 3600 \\\n  \
         --description {desc} \\\n  --assume-role-policy-document {trust}\n\n\
         aws iam put-role-policy --role-name {role} --policy-name {policy_name} \\\n  \
         --policy-document {policy}\n",
        id = account.id,
        metadata = if metadata_xml.ends_with('\n') {
            metadata_xml.to_string()
        } else {
            format!("{metadata_xml}\n")
        },
        provider = SAML_PROVIDER_NAME,
        desc = sh(DESCRIPTION),
        policy_name = POLICY_NAME,
        policy = sh(&policy.to_string()),
        role = PROVISIONER_ROLE,
        trust = sh(&trust.to_string()),
    );
    if let Some(root) = root {
        text.push_str(&format!(
            "\n# This account starts break-glass root sessions in the organization's member\n\
             # accounts. As the management account, turn centralized root access on (once):\n\
             {ORGANIZATION_COMMANDS}\n\
             aws iam put-role-policy --role-name {PROVISIONER_ROLE} --policy-name {ROOT_POLICY_NAME} \\\n  \
             --policy-document {}\n",
            sh(&root.to_string())
        ));
    }
    text
}

fn terraform(
    account: &AccountRecord,
    policy: &Value,
    trust: &Value,
    root: Option<&Value>,
) -> String {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let mut text = format!(
        "# Gatehouse setup for AWS account {id}. Save Gatehouse's IdP metadata next to this\n\
         # file as gatehouse-idp-metadata.xml, then: terraform init && terraform apply\n\n\
         resource \"aws_iam_saml_provider\" \"gatehouse\" {{\n  \
         name                   = \"{provider}\"\n  \
         saml_metadata_document = file(\"${{path.module}}/gatehouse-idp-metadata.xml\")\n}}\n\n\
         resource \"aws_iam_role\" \"gatehouse_provisioner\" {{\n  \
         name                 = \"{role}\"\n  description          = \"{desc}\"\n  \
         max_session_duration = 3600\n  \
         assume_role_policy   = <<EOT\n{trust}\nEOT\n  \
         depends_on           = [aws_iam_saml_provider.gatehouse]\n}}\n\n\
         resource \"aws_iam_role_policy\" \"gatehouse_provisioner\" {{\n  \
         name   = \"{policy_name}\"\n  \
         role   = aws_iam_role.gatehouse_provisioner.id\n  \
         policy = <<EOT\n{policy}\nEOT\n}}\n",
        id = account.id,
        provider = SAML_PROVIDER_NAME,
        desc = DESCRIPTION,
        policy_name = POLICY_NAME,
        policy = pretty(policy),
        role = PROVISIONER_ROLE,
        trust = pretty(trust),
    );
    if let Some(root) = root {
        text.push_str(&format!(
            "\n# Break-glass root sessions in the organization's member accounts. Centralized\n\
             # root access must be on (aws_organizations_organization's\n\
             # aws_service_access_principals includes \"iam.amazonaws.com\", then\n\
             # aws iam enable-organizations-root-sessions).\n\
             resource \"aws_iam_role_policy\" \"gatehouse_root_sessions\" {{\n  \
             name   = \"{ROOT_POLICY_NAME}\"\n  \
             role   = aws_iam_role.gatehouse_provisioner.id\n  \
             policy = <<EOT\n{}\nEOT\n}}\n",
            pretty(root)
        ));
    }
    text
}

fn cloudformation(
    metadata_xml: &str,
    policy: &Value,
    trust: &Value,
    root: Option<&Value>,
) -> String {
    let mut policies = vec![json!({ "PolicyName": POLICY_NAME, "PolicyDocument": policy })];
    if let Some(root) = root {
        policies.push(json!({ "PolicyName": ROOT_POLICY_NAME, "PolicyDocument": root }));
    }
    let t = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": DESCRIPTION,
        "Resources": {
            "GatehouseSAMLProvider": {
                "Type": "AWS::IAM::SAMLProvider",
                "Properties": {
                    "Name": SAML_PROVIDER_NAME,
                    "SamlMetadataDocument": metadata_xml
                }
            },
            "GatehouseProvisionerRole": {
                "Type": "AWS::IAM::Role",
                "DependsOn": "GatehouseSAMLProvider",
                "Properties": {
                    "RoleName": PROVISIONER_ROLE,
                    "Description": DESCRIPTION,
                    "MaxSessionDuration": 3600,
                    "AssumeRolePolicyDocument": trust,
                    "Policies": policies
                }
            }
        },
        "Outputs": {
            "ProvisionerRoleArn": { "Value": { "Fn::GetAtt": ["GatehouseProvisionerRole", "Arn"] } },
            "SAMLProviderArn": { "Value": { "Ref": "GatehouseSAMLProvider" } }
        }
    });
    serde_json::to_string_pretty(&t).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountRecord {
        AccountRecord {
            id: "123456789012".into(),
            name: "prod".into(),
            environment: "production".into(),
            provider: "aws".into(),
            site: "international".into(),
            region: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_kit_trusts_gatehouse_for_aws_sign_in_and_grants_only_gatehouse_roles() {
        let k = kit(
            &account(),
            "https://gh/saml/idp/metadata.xml",
            "<md/>",
            false,
        );
        assert_eq!(k.provider, Provider::Aws);
        assert_eq!(k.steps.len(), 3);
        assert!(!k.cli.contains("AssumeRoot") && !k.ros_template.contains(ROOT_POLICY_NAME));
        let trust = &k.steps[1]
            .parameters
            .iter()
            .find(|(n, _)| n == "AssumeRolePolicyDocument")
            .unwrap()
            .1;
        assert!(
            trust.contains("arn:aws:iam::123456789012:saml-provider/Gatehouse"),
            "{trust}"
        );
        assert!(trust.contains("SAML:aud") && trust.contains("https://signin.aws.amazon.com/saml"));
        let policy = provisioner_policy("123456789012").to_string();
        assert!(
            !policy.contains("\"Resource\":[\"*\"]") && !policy.contains("\"iam:*\""),
            "{policy}"
        );
        assert!(policy.contains("arn:aws:iam::123456789012:role/GatehouseSSO-*"));
        assert!(k.cli.contains("aws iam create-saml-provider") && k.cli.contains("<md/>"));
        assert!(
            k.terraform.contains("aws_iam_saml_provider")
                && k.terraform.contains("aws_iam_role_policy")
        );
        let cfn: Value = serde_json::from_str(&k.ros_template).unwrap();
        assert_eq!(
            cfn["Resources"]["GatehouseSAMLProvider"]["Type"],
            "AWS::IAM::SAMLProvider"
        );
        assert_eq!(
            cfn["Resources"]["GatehouseProvisionerRole"]["Type"],
            "AWS::IAM::Role"
        );
    }

    #[test]
    fn only_the_root_sessions_accounts_kit_allows_assume_root_with_task_policies() {
        let k = kit(
            &account(),
            "https://gh/saml/idp/metadata.xml",
            "<md/>",
            true,
        );
        assert_eq!(k.steps.len(), 4);
        let doc: Value = serde_json::from_str(
            &k.steps[3]
                .parameters
                .iter()
                .find(|(n, _)| n == "PolicyDocument")
                .unwrap()
                .1,
        )
        .unwrap();
        let st = &doc["Statement"][0];
        assert_eq!(st["Action"], json!(["sts:AssumeRoot"]));
        let tasks = st["Condition"]["StringEquals"]["sts:TaskPolicyArn"]
            .as_array()
            .unwrap();
        assert_eq!(tasks.len(), 5);
        assert!(tasks.iter().all(|t| t
            .as_str()
            .unwrap()
            .starts_with("arn:aws:iam::aws:policy/root-task/")));
        assert!(k.cli.contains("enable-organizations-root-sessions"));
        assert!(k.terraform.contains("gatehouse_root_sessions"));
        let cfn: Value = serde_json::from_str(&k.ros_template).unwrap();
        assert_eq!(
            cfn["Resources"]["GatehouseProvisionerRole"]["Properties"]["Policies"][1]["PolicyName"],
            ROOT_POLICY_NAME
        );
    }
}
