//! A permission set's role in RAM (2015-05-01), made to match what it should be: the role
//! with its trust policy and maximum session, the system policies attached, the inline
//! policy kept as the custom policy `GatehouseSSO-<name>` with versions, and the denial
//! policy `GatehouseSSO-<name>-Deny` while revoked sessions are unexpired. Each step reads
//! first and changes only what differs, so running it again after a crash finishes the job.

use std::collections::BTreeSet;

use gatehouse_shared::cloud::CloudFault;
use serde_json::{json, Value};

use super::client::{Api, CallRecord, Signer};
use crate::cloud::DesiredRole;

/// RAM's API version.
pub const VERSION: &str = "2015-05-01";

/// The RAM calls of one piece of work, signed by the provisioner's credentials.
pub struct Ram<'a> {
    pub api: Api<'a>,
    pub signer: &'a Signer,
    pub log: Vec<CallRecord>,
}

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Whether two policy documents say the same thing (JSON equality, whatever the layout).
pub fn same_document(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

fn not_found(f: &CloudFault) -> bool {
    f.code.starts_with("EntityNotExist")
}

/// The denial policy's name for a role.
pub fn deny_policy_name(role_name: &str) -> String {
    format!("{role_name}-Deny")
}

impl Ram<'_> {
    async fn call(
        &mut self,
        action: &str,
        params: Vec<(String, String)>,
    ) -> Result<Value, CloudFault> {
        self.api
            .call(action, &params, Some(self.signer), &mut self.log)
            .await
    }

    async fn get_role(&mut self, role: &str) -> Result<Option<Value>, CloudFault> {
        match self.call("GetRole", p(&[("RoleName", role)])).await {
            Ok(v) => Ok(v.get("Role").cloned()),
            Err(f) if not_found(&f) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// The default version's document of a custom policy, if the policy exists.
    async fn custom_policy(&mut self, name: &str) -> Result<Option<String>, CloudFault> {
        match self
            .call(
                "GetPolicy",
                p(&[("PolicyType", "Custom"), ("PolicyName", name)]),
            )
            .await
        {
            Ok(v) => Ok(Some(
                v.pointer("/DefaultPolicyVersion/PolicyDocument")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            )),
            Err(f) if not_found(&f) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// `(type, name)` of every policy attached to the role.
    async fn attached(&mut self, role: &str) -> Result<BTreeSet<(String, String)>, CloudFault> {
        let v = self
            .call("ListPoliciesForRole", p(&[("RoleName", role)]))
            .await?;
        Ok(v.pointer("/Policies/Policy")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|x| {
                        Some((
                            x.get("PolicyType")?.as_str()?.to_string(),
                            x.get("PolicyName")?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Creates the custom policy, or makes `document` its new default version (the oldest
    /// version goes when RAM's limit of five is reached). Returns what changed.
    async fn put_custom_policy(
        &mut self,
        name: &str,
        document: &str,
        description: &str,
    ) -> Result<Option<String>, CloudFault> {
        match self.custom_policy(name).await? {
            None => {
                self.call(
                    "CreatePolicy",
                    p(&[
                        ("PolicyName", name),
                        ("PolicyDocument", document),
                        ("Description", description),
                    ]),
                )
                .await?;
                Ok(Some(format!("created policy {name}")))
            }
            Some(current) if same_document(&current, document) => Ok(None),
            Some(_) => {
                self.call(
                    "CreatePolicyVersion",
                    p(&[
                        ("PolicyName", name),
                        ("PolicyDocument", document),
                        ("SetAsDefault", "true"),
                        (
                            "RotateStrategy",
                            "DeleteOldestNonDefaultVersionWhenLimitExceeded",
                        ),
                    ]),
                )
                .await?;
                Ok(Some(format!("new default version of policy {name}")))
            }
        }
    }

    /// Deletes a custom policy and its other versions; a missing one is fine.
    async fn delete_custom_policy(&mut self, name: &str) -> Result<bool, CloudFault> {
        let versions = match self
            .call(
                "ListPolicyVersions",
                p(&[("PolicyType", "Custom"), ("PolicyName", name)]),
            )
            .await
        {
            Ok(v) => v,
            Err(f) if not_found(&f) => return Ok(false),
            Err(f) => return Err(f),
        };
        let list = versions
            .pointer("/PolicyVersions/PolicyVersion")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for v in list {
            let default = v
                .get("IsDefaultVersion")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if let (false, Some(id)) = (default, v.get("VersionId").and_then(Value::as_str)) {
                match self
                    .call(
                        "DeletePolicyVersion",
                        p(&[("PolicyName", name), ("VersionId", id)]),
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(f) if not_found(&f) => {}
                    Err(f) => return Err(f),
                }
            }
        }
        match self.call("DeletePolicy", p(&[("PolicyName", name)])).await {
            Ok(_) => Ok(true),
            Err(f) if not_found(&f) => Ok(false),
            Err(f) => Err(f),
        }
    }

    /// Makes the role match `d`; returns what changed (empty: nothing needed changing).
    pub async fn provision(&mut self, d: &DesiredRole) -> Result<Vec<String>, CloudFault> {
        let mut changes = Vec::new();
        let max = d.max_session_secs.to_string();
        match self.get_role(&d.role_name).await? {
            None => {
                self.call(
                    "CreateRole",
                    p(&[
                        ("RoleName", &d.role_name),
                        ("AssumeRolePolicyDocument", &d.trust_policy),
                        ("Description", &d.description),
                        ("MaxSessionDuration", &max),
                    ]),
                )
                .await?;
                changes.push(format!("created role {}", d.role_name));
            }
            Some(role) => {
                let trust = role
                    .get("AssumeRolePolicyDocument")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let current_max = role.get("MaxSessionDuration").and_then(Value::as_i64);
                let mut params = p(&[("RoleName", &d.role_name)]);
                if !same_document(trust, &d.trust_policy) {
                    params.push(("NewAssumeRolePolicyDocument".into(), d.trust_policy.clone()));
                    changes.push("trust policy restored".into());
                }
                if current_max != Some(d.max_session_secs) {
                    params.push(("NewMaxSessionDuration".into(), max.clone()));
                    changes.push(format!("maximum session set to {max} s"));
                }
                if params.len() > 1 {
                    self.call("UpdateRole", params).await?;
                }
            }
        }
        let custom = d.role_name.clone();
        if let Some(doc) = &d.inline_policy {
            if let Some(c) = self.put_custom_policy(&custom, doc, &d.description).await? {
                changes.push(c);
            }
        }
        let mut want: BTreeSet<(String, String)> = d
            .system_policies
            .iter()
            .map(|n| ("System".to_string(), n.clone()))
            .collect();
        if d.inline_policy.is_some() {
            want.insert(("Custom".into(), custom.clone()));
        }
        let deny = ("Custom".to_string(), deny_policy_name(&d.role_name));
        let have = self.attached(&d.role_name).await?;
        for (kind, name) in want.difference(&have) {
            self.call(
                "AttachPolicyToRole",
                p(&[
                    ("PolicyType", kind),
                    ("PolicyName", name),
                    ("RoleName", &d.role_name),
                ]),
            )
            .await?;
            changes.push(format!("attached {kind} policy {name}"));
        }
        for (kind, name) in have.difference(&want) {
            if (kind, name) == (&deny.0, &deny.1) {
                continue;
            }
            self.call(
                "DetachPolicyFromRole",
                p(&[
                    ("PolicyType", kind),
                    ("PolicyName", name),
                    ("RoleName", &d.role_name),
                ]),
            )
            .await?;
            changes.push(format!("detached {kind} policy {name}"));
        }
        if d.inline_policy.is_none() && self.delete_custom_policy(&custom).await? {
            changes.push(format!("deleted policy {custom}"));
        }
        Ok(changes)
    }

    /// How the role differs from `d` (empty: it matches). Reads only.
    pub async fn drift(&mut self, d: &DesiredRole) -> Result<Vec<String>, CloudFault> {
        let Some(role) = self.get_role(&d.role_name).await? else {
            return Ok(vec![format!("role {} no longer exists", d.role_name)]);
        };
        let mut out = Vec::new();
        let trust = role
            .get("AssumeRolePolicyDocument")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !same_document(trust, &d.trust_policy) {
            out.push("the trust policy was changed".to_string());
        }
        let current_max = role.get("MaxSessionDuration").and_then(Value::as_i64);
        if current_max != Some(d.max_session_secs) {
            out.push(format!(
                "maximum session is {} s, should be {} s",
                current_max.map_or("unset".into(), |m| m.to_string()),
                d.max_session_secs
            ));
        }
        if let Some(doc) = &d.inline_policy {
            match self.custom_policy(&d.role_name).await? {
                None => out.push(format!("policy {} no longer exists", d.role_name)),
                Some(current) if !same_document(&current, doc) => {
                    out.push(format!(
                        "policy {} has a different default version",
                        d.role_name
                    ));
                }
                Some(_) => {}
            }
        }
        let mut want: BTreeSet<(String, String)> = d
            .system_policies
            .iter()
            .map(|n| ("System".to_string(), n.clone()))
            .collect();
        if d.inline_policy.is_some() {
            want.insert(("Custom".into(), d.role_name.clone()));
        }
        let deny = deny_policy_name(&d.role_name);
        let have = self.attached(&d.role_name).await?;
        for (kind, name) in want.difference(&have) {
            out.push(format!("{kind} policy {name} is not attached"));
        }
        for (kind, name) in have.difference(&want) {
            if *name != deny {
                out.push(format!(
                    "{kind} policy {name} was attached outside Gatehouse"
                ));
            }
        }
        Ok(out)
    }

    /// Deletes the role and the policies Gatehouse made for it; a role already gone is fine.
    pub async fn deprovision(&mut self, role_name: &str) -> Result<Vec<String>, CloudFault> {
        let mut changes = Vec::new();
        if self.get_role(role_name).await?.is_some() {
            for (kind, name) in self.attached(role_name).await? {
                self.call(
                    "DetachPolicyFromRole",
                    p(&[
                        ("PolicyType", &kind),
                        ("PolicyName", &name),
                        ("RoleName", role_name),
                    ]),
                )
                .await?;
            }
            match self.call("DeleteRole", p(&[("RoleName", role_name)])).await {
                Ok(_) => changes.push(format!("deleted role {role_name}")),
                Err(f) if not_found(&f) => {}
                Err(f) => return Err(f),
            }
        }
        for name in [role_name.to_string(), deny_policy_name(role_name)] {
            if self.delete_custom_policy(&name).await? {
                changes.push(format!("deleted policy {name}"));
            }
        }
        Ok(changes)
    }

    /// Makes the role's denial policy deny exactly `principals` (assumed-role ARNs), or
    /// removes it when there are none.
    pub async fn deny_sessions(
        &mut self,
        role_name: &str,
        principals: &[String],
    ) -> Result<(), CloudFault> {
        let name = deny_policy_name(role_name);
        if principals.is_empty() {
            match self
                .call(
                    "DetachPolicyFromRole",
                    p(&[
                        ("PolicyType", "Custom"),
                        ("PolicyName", &name),
                        ("RoleName", role_name),
                    ]),
                )
                .await
            {
                Ok(_) => {}
                Err(f) if not_found(&f) => {}
                Err(f) => return Err(f),
            }
            self.delete_custom_policy(&name).await?;
            return Ok(());
        }
        let doc = json!({
            "Version": "1",
            "Statement": [{
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": { "StringEquals": { "acs:PrincipalARN": principals } }
            }]
        })
        .to_string();
        self.put_custom_policy(
            &name,
            &doc,
            "Gatehouse: role sessions revoked until their tokens expire",
        )
        .await?;
        match self
            .call(
                "AttachPolicyToRole",
                p(&[
                    ("PolicyType", "Custom"),
                    ("PolicyName", &name),
                    ("RoleName", role_name),
                ]),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(f) if f.code.starts_with("EntityAlreadyExists") => Ok(()),
            Err(f) => Err(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_compare_by_meaning_not_layout() {
        assert!(same_document(
            r#"{"Version":"1","Statement":[]}"#,
            "{ \"Statement\": [], \"Version\": \"1\" }"
        ));
        assert!(!same_document(r#"{"Version":"1"}"#, r#"{"Version":"2"}"#));
    }
}
