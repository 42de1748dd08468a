//! The one-time setup kit of an Alibaba Cloud account: what its owner runs so that
//! Gatehouse can work there without an AccessKey. It creates the SAML provider `Gatehouse`
//! from Gatehouse's IdP metadata, and the role `GatehouseProvisioner` that trusts it, with a
//! least-privilege policy: role and policy management on `GatehouseSSO-*` only. The same
//! steps come as API calls, `aliyun` CLI commands, a Terraform file and a ROS template.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use gatehouse_shared::cloud::{Provider, SetupKit, SetupStep};
use serde_json::{json, Value};

use super::alibaba::{provisioner_role_arn, saml_provider_arn, site};
use super::{PROVISIONER_ROLE, SAML_PROVIDER_NAME};
use crate::store::AccountRecord;

const POLICY_NAME: &str = "GatehouseProvisionerPolicy";
const DESCRIPTION: &str = "Gatehouse: role-based SSO and provisioning of GatehouseSSO-* roles";

/// What the provisioner may do: manage `GatehouseSSO-*` roles and custom policies, and
/// attach system policies to those roles. Nothing else.
pub fn provisioner_policy(account_id: &str) -> Value {
    let roles = format!("acs:ram:*:{account_id}:role/GatehouseSSO-*");
    let policies = format!("acs:ram:*:{account_id}:policy/GatehouseSSO-*");
    json!({
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ram:GetRole", "ram:CreateRole", "ram:UpdateRole", "ram:DeleteRole",
                           "ram:ListPoliciesForRole", "ram:AttachPolicyToRole", "ram:DetachPolicyFromRole"],
                "Resource": [roles]
            },
            {
                "Effect": "Allow",
                "Action": ["ram:GetPolicy", "ram:CreatePolicy", "ram:DeletePolicy", "ram:GetPolicyVersion",
                           "ram:CreatePolicyVersion", "ram:ListPolicyVersions", "ram:DeletePolicyVersion",
                           "ram:AttachPolicyToRole", "ram:DetachPolicyFromRole"],
                "Resource": [policies]
            },
            {
                "Effect": "Allow",
                "Action": ["ram:AttachPolicyToRole", "ram:DetachPolicyFromRole"],
                "Resource": ["acs:ram:*:system:policy/*"]
            }
        ]
    })
}

/// The provisioner role's trust policy: Gatehouse's SAML provider, on the account's site.
pub fn provisioner_trust(account: &AccountRecord) -> Value {
    json!({
        "Statement": [{
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": { "Federated": [saml_provider_arn(&account.id)] },
            "Condition": { "StringEquals": { "saml:recipient": [site(account).signin_url()] } }
        }],
        "Version": "1"
    })
}

fn step(
    product: &str,
    version: &str,
    action: &str,
    params: &[(&str, String)],
    description: &str,
) -> SetupStep {
    SetupStep {
        product: product.into(),
        version: version.into(),
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

/// The kit for `account`, with the metadata as published now.
pub fn kit(account: &AccountRecord, metadata_url: &str, metadata_xml: &str) -> SetupKit {
    let policy = provisioner_policy(&account.id);
    let trust = provisioner_trust(account);
    let encoded = STANDARD.encode(metadata_xml);
    let steps = vec![
        step(
            "ims",
            "2019-08-15",
            "CreateSAMLProvider",
            &[
                ("SAMLProviderName", SAML_PROVIDER_NAME.into()),
                ("EncodedSAMLMetadataDocument", encoded.clone()),
                ("Description", DESCRIPTION.into()),
            ],
            "Trust Gatehouse as a SAML identity provider for role-based SSO.",
        ),
        step(
            "ram",
            "2015-05-01",
            "CreatePolicy",
            &[
                ("PolicyName", POLICY_NAME.into()),
                ("PolicyDocument", policy.to_string()),
                ("Description", DESCRIPTION.into()),
            ],
            "What Gatehouse may do: manage GatehouseSSO-* roles and policies only.",
        ),
        step(
            "ram",
            "2015-05-01",
            "CreateRole",
            &[
                ("RoleName", PROVISIONER_ROLE.into()),
                ("AssumeRolePolicyDocument", trust.to_string()),
                ("Description", DESCRIPTION.into()),
                ("MaxSessionDuration", "3600".into()),
            ],
            "The role Gatehouse assumes through SAML to provision; no AccessKey is created.",
        ),
        step(
            "ram",
            "2015-05-01",
            "AttachPolicyToRole",
            &[
                ("PolicyType", "Custom".into()),
                ("PolicyName", POLICY_NAME.into()),
                ("RoleName", PROVISIONER_ROLE.into()),
            ],
            "Give the provisioner role its policy.",
        ),
    ];
    SetupKit {
        account_id: account.id.clone(),
        provider: Provider::Alibaba,
        site: site(account),
        saml_provider_name: SAML_PROVIDER_NAME.into(),
        saml_provider_arn: saml_provider_arn(&account.id),
        provisioner_role_arn: provisioner_role_arn(&account.id),
        metadata_url: metadata_url.into(),
        metadata_xml: metadata_xml.into(),
        cli: cli(account, metadata_xml, &policy, &trust),
        terraform: terraform(account, &policy, &trust),
        ros_template: ros(&encoded, &policy, &trust),
        steps,
    }
}

fn cli(account: &AccountRecord, metadata_xml: &str, policy: &Value, trust: &Value) -> String {
    format!(
        "#!/bin/sh\n\
         # Gatehouse setup for Alibaba Cloud account {id}. Run once, signed in to the aliyun CLI as\n\
         # the account's owner (or a RAM administrator). It creates no AccessKey.\n\
         set -eu\n\
         cat > gatehouse-idp-metadata.xml <<'GATEHOUSE_METADATA'\n{metadata}GATEHOUSE_METADATA\n\n\
         aliyun ims CreateSAMLProvider --SAMLProviderName {provider} \\\n  \
         --EncodedSAMLMetadataDocument \"$(base64 -w0 gatehouse-idp-metadata.xml)\" \\\n  \
         --Description {desc}\n\n\
         aliyun ram CreatePolicy --PolicyName {policy_name} \\\n  --PolicyDocument {policy} \\\n  --Description {desc}\n\n\
         aliyun ram CreateRole --RoleName {role} \\\n  --AssumeRolePolicyDocument {trust} \\\n  \
         --MaxSessionDuration 3600 --Description {desc}\n\n\
         aliyun ram AttachPolicyToRole --PolicyType Custom --PolicyName {policy_name} --RoleName {role}\n",
        id = account.id,
        metadata = if metadata_xml.ends_with('\n') { metadata_xml.to_string() } else { format!("{metadata_xml}\n") },
        provider = SAML_PROVIDER_NAME,
        desc = sh(DESCRIPTION),
        policy_name = POLICY_NAME,
        policy = sh(&policy.to_string()),
        role = PROVISIONER_ROLE,
        trust = sh(&trust.to_string()),
    )
}

fn terraform(account: &AccountRecord, policy: &Value, trust: &Value) -> String {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    format!(
        "# Gatehouse setup for Alibaba Cloud account {id}. Save Gatehouse's IdP metadata next to\n\
         # this file as gatehouse-idp-metadata.xml, then: terraform init && terraform apply\n\n\
         resource \"alicloud_ram_saml_provider\" \"gatehouse\" {{\n  \
         saml_provider_name            = \"{provider}\"\n  \
         encodedsaml_metadata_document = filebase64(\"${{path.module}}/gatehouse-idp-metadata.xml\")\n  \
         description                   = \"{desc}\"\n}}\n\n\
         resource \"alicloud_ram_policy\" \"gatehouse_provisioner\" {{\n  \
         policy_name     = \"{policy_name}\"\n  description     = \"{desc}\"\n  \
         policy_document = <<EOT\n{policy}\nEOT\n}}\n\n\
         resource \"alicloud_ram_role\" \"gatehouse_provisioner\" {{\n  \
         role_name                   = \"{role}\"\n  description                 = \"{desc}\"\n  \
         max_session_duration        = 3600\n  \
         assume_role_policy_document = <<EOT\n{trust}\nEOT\n  \
         depends_on                  = [alicloud_ram_saml_provider.gatehouse]\n}}\n\n\
         resource \"alicloud_ram_role_policy_attachment\" \"gatehouse_provisioner\" {{\n  \
         policy_name = alicloud_ram_policy.gatehouse_provisioner.policy_name\n  \
         policy_type = \"Custom\"\n  \
         role_name   = alicloud_ram_role.gatehouse_provisioner.role_name\n}}\n",
        id = account.id,
        provider = SAML_PROVIDER_NAME,
        desc = DESCRIPTION,
        policy_name = POLICY_NAME,
        policy = pretty(policy),
        role = PROVISIONER_ROLE,
        trust = pretty(trust),
    )
}

fn ros(encoded_metadata: &str, policy: &Value, trust: &Value) -> String {
    let t = json!({
        "ROSTemplateFormatVersion": "2015-09-01",
        "Description": DESCRIPTION,
        "Resources": {
            "GatehouseSAMLProvider": {
                "Type": "ALIYUN::RAM::SAMLProvider",
                "Properties": {
                    "SAMLProviderName": SAML_PROVIDER_NAME,
                    "EncodedSAMLMetadataDocument": encoded_metadata,
                    "Description": DESCRIPTION
                }
            },
            "GatehouseProvisionerRole": {
                "Type": "ALIYUN::RAM::Role",
                "DependsOn": "GatehouseSAMLProvider",
                "Properties": {
                    "RoleName": PROVISIONER_ROLE,
                    "Description": DESCRIPTION,
                    "MaxSessionDuration": 3600,
                    "AssumeRolePolicyDocument": trust
                }
            },
            "GatehouseProvisionerPolicy": {
                "Type": "ALIYUN::RAM::ManagedPolicy",
                "Properties": {
                    "PolicyName": POLICY_NAME,
                    "Description": DESCRIPTION,
                    "PolicyDocument": policy,
                    "Roles": [{ "Fn::GetAtt": ["GatehouseProvisionerRole", "RoleName"] }]
                }
            }
        },
        "Outputs": {
            "ProvisionerRoleArn": { "Value": { "Fn::GetAtt": ["GatehouseProvisionerRole", "Arn"] } }
        }
    });
    serde_json::to_string_pretty(&t).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountRecord {
        AccountRecord {
            id: "1234567890123456".into(),
            name: "prod".into(),
            environment: "production".into(),
            provider: "alibaba".into(),
            site: "china".into(),
            region: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_kit_trusts_gatehouse_on_the_accounts_site_and_grants_only_gatehouse_roles() {
        let k = kit(&account(), "https://gh/saml/idp/metadata.xml", "<md/>");
        assert_eq!(k.steps.len(), 4);
        let trust = &k.steps[2]
            .parameters
            .iter()
            .find(|(n, _)| n == "AssumeRolePolicyDocument")
            .unwrap()
            .1;
        assert!(
            trust.contains("https://signin.aliyun.com/saml-role/sso"),
            "{trust}"
        );
        assert!(trust.contains("acs:ram::1234567890123456:saml-provider/Gatehouse"));
        let policy = provisioner_policy("1234567890123456").to_string();
        assert!(
            !policy.contains("\"Resource\":[\"*\"]") && !policy.contains("\"ram:*\""),
            "{policy}"
        );
        assert!(k.cli.contains("aliyun ims CreateSAMLProvider") && k.cli.contains("<md/>"));
        assert!(
            k.terraform.contains("alicloud_ram_saml_provider")
                && k.terraform.contains("alicloud_ram_role")
        );
        let ros: Value = serde_json::from_str(&k.ros_template).unwrap();
        assert_eq!(
            ros["Resources"]["GatehouseSAMLProvider"]["Type"],
            "ALIYUN::RAM::SAMLProvider"
        );
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(sh("it's"), "'it'\\''s'");
    }
}
