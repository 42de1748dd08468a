//! A permission set's role in IAM (2010-05-08), made to match what it should be: the role
//! with its trust policy and maximum session, the AWS managed policies attached by ARN, the
//! inline policy `GatehouseSSO-inline`, and the inline policy `GatehouseRevokedSessions`
//! while revoked sessions are unexpired. Each step reads first and changes only what
//! differs, so running it again after a crash finishes the job. Also: whether a policy
//! document is written in IAM's language (`is_iam_document`, `check_document`).

use std::collections::BTreeSet;

use gatehouse_shared::cloud::CloudFault;
use serde_json::{json, Value};

use super::client::{Api, Signer, Xml};
use crate::cloud::alibaba::client::CallRecord;
use crate::cloud::alibaba::ram::same_document;
use crate::cloud::DesiredRole;

/// IAM's API version.
pub const VERSION: &str = "2010-05-08";
/// The inline policy a permission set's own policy becomes.
pub const INLINE_POLICY: &str = "GatehouseSSO-inline";
/// The inline policy that denies revoked sessions.
pub const REVOKED_POLICY: &str = "GatehouseRevokedSessions";
/// The versions of IAM's policy language.
const IAM_VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

/// Whether `text` is a policy in IAM's language (its `Version` is IAM's), not RAM's.
pub fn is_iam_document(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("Version").and_then(Value::as_str).map(str::to_string))
        .is_some_and(|v| IAM_VERSIONS.contains(&v.as_str()))
}

/// Checks an IAM identity policy's shape: `Version`, `Statement` (one or a list), each with
/// `Effect` Allow or Deny, `Action` or `NotAction`, `Resource` or `NotResource`, and no
/// `Principal` (an identity policy names none). IAM judges the rest when it is put.
pub fn check_document(text: &str) -> Result<(), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let Some(obj) = v.as_object() else {
        return Err("a policy is a JSON object".into());
    };
    for k in obj.keys() {
        if !matches!(k.as_str(), "Version" | "Statement" | "Id") {
            return Err(format!("unknown key \"{k}\""));
        }
    }
    let version = obj.get("Version").and_then(Value::as_str).unwrap_or("");
    if !IAM_VERSIONS.contains(&version) {
        return Err("\"Version\" must be \"2012-10-17\"".into());
    }
    let statements = match obj.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => a.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return Err("\"Statement\" must be a statement or a list of them".into()),
    };
    for (i, s) in statements.iter().enumerate() {
        let n = i + 1;
        let Some(s) = s.as_object() else {
            return Err(format!("statement {n} is not an object"));
        };
        match s.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            _ => return Err(format!("statement {n}: \"Effect\" must be Allow or Deny")),
        }
        if s.contains_key("Action") == s.contains_key("NotAction") {
            return Err(format!(
                "statement {n} needs exactly one of \"Action\" and \"NotAction\""
            ));
        }
        if s.contains_key("Resource") == s.contains_key("NotResource") {
            return Err(format!(
                "statement {n} needs exactly one of \"Resource\" and \"NotResource\""
            ));
        }
        if s.contains_key("Principal") || s.contains_key("NotPrincipal") {
            return Err(format!(
                "statement {n}: an identity policy names no \"Principal\""
            ));
        }
    }
    Ok(())
}

/// The IAM calls of one piece of work, signed by the provisioner's credentials.
pub struct Iam<'a> {
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

fn not_found(f: &CloudFault) -> bool {
    f.code == "NoSuchEntity"
}

/// A policy document as IAM returns it (URL-encoded JSON), as JSON text.
pub fn decode_document(text: &str) -> String {
    if serde_json::from_str::<Value>(text).is_ok() {
        return text.to_string();
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The role as IAM has it.
struct Role {
    trust: String,
    max_session: Option<i64>,
}

/// The deny-revoked-sessions policy: AWS's documented "revoke older sessions" statement
/// (Deny everything to tokens issued before `before`), scoped to the revoked sessions by
/// `aws:userid` (`<role id>:<session name>`). Session names are unique per issue, so a
/// later session of the same person is not denied.
pub fn revoked_document(sessions: &[String], before: &str) -> String {
    let userids: Vec<String> = sessions.iter().map(|s| format!("*:{s}")).collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GatehouseRevokedSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "DateLessThan": { "aws:TokenIssueTime": before },
                "StringLike": { "aws:userid": userids }
            }
        }]
    })
    .to_string()
}

impl Iam<'_> {
    async fn call(
        &mut self,
        action: &str,
        params: Vec<(String, String)>,
    ) -> Result<Xml, CloudFault> {
        self.api
            .call(action, &params, Some(self.signer), &mut self.log)
            .await
    }

    async fn get_role(&mut self, role: &str) -> Result<Option<Role>, CloudFault> {
        match self.call("GetRole", p(&[("RoleName", role)])).await {
            Ok(x) => Ok(Some(Role {
                trust: decode_document(x.text_of("AssumeRolePolicyDocument").unwrap_or("")),
                max_session: x.text_of("MaxSessionDuration").and_then(|m| m.parse().ok()),
            })),
            Err(f) if not_found(&f) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// Every page of a list: the `<member>` texts of `list`.
    async fn list(
        &mut self,
        action: &str,
        role: &str,
        list: &str,
        field: Option<&str>,
    ) -> Result<BTreeSet<String>, CloudFault> {
        let mut out = BTreeSet::new();
        let mut marker: Option<String> = None;
        loop {
            let mut params = p(&[("RoleName", role)]);
            if let Some(m) = &marker {
                params.push(("Marker".into(), m.clone()));
            }
            let x = self.call(action, params).await?;
            for m in x.members(list) {
                let text = match field {
                    Some(f) => m.text_of(f).unwrap_or_default().to_string(),
                    None => m.text.clone(),
                };
                if !text.is_empty() {
                    out.insert(text);
                }
            }
            let truncated = x.text_of("IsTruncated") == Some("true");
            marker = x.text_of("Marker").map(str::to_string);
            if !truncated || marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn attached(&mut self, role: &str) -> Result<BTreeSet<String>, CloudFault> {
        self.list(
            "ListAttachedRolePolicies",
            role,
            "AttachedPolicies",
            Some("PolicyArn"),
        )
        .await
    }

    async fn inline_names(&mut self, role: &str) -> Result<BTreeSet<String>, CloudFault> {
        self.list("ListRolePolicies", role, "PolicyNames", None)
            .await
    }

    async fn inline_document(
        &mut self,
        role: &str,
        name: &str,
    ) -> Result<Option<String>, CloudFault> {
        match self
            .call(
                "GetRolePolicy",
                p(&[("RoleName", role), ("PolicyName", name)]),
            )
            .await
        {
            Ok(x) => Ok(Some(decode_document(
                x.text_of("PolicyDocument").unwrap_or(""),
            ))),
            Err(f) if not_found(&f) => Ok(None),
            Err(f) => Err(f),
        }
    }

    async fn delete_inline(&mut self, role: &str, name: &str) -> Result<bool, CloudFault> {
        match self
            .call(
                "DeleteRolePolicy",
                p(&[("RoleName", role), ("PolicyName", name)]),
            )
            .await
        {
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
                if !same_document(&role.trust, &d.trust_policy) {
                    self.call(
                        "UpdateAssumeRolePolicy",
                        p(&[
                            ("RoleName", &d.role_name),
                            ("PolicyDocument", &d.trust_policy),
                        ]),
                    )
                    .await?;
                    changes.push("trust policy restored".into());
                }
                if role.max_session != Some(d.max_session_secs) {
                    self.call(
                        "UpdateRole",
                        p(&[
                            ("RoleName", &d.role_name),
                            ("MaxSessionDuration", &max),
                            ("Description", &d.description),
                        ]),
                    )
                    .await?;
                    changes.push(format!("maximum session set to {max} s"));
                }
            }
        }
        let inline = self.inline_names(&d.role_name).await?;
        if let Some(doc) = &d.inline_policy {
            let current = if inline.contains(INLINE_POLICY) {
                self.inline_document(&d.role_name, INLINE_POLICY).await?
            } else {
                None
            };
            if !current.is_some_and(|c| same_document(&c, doc)) {
                self.call(
                    "PutRolePolicy",
                    p(&[
                        ("RoleName", &d.role_name),
                        ("PolicyName", INLINE_POLICY),
                        ("PolicyDocument", doc),
                    ]),
                )
                .await?;
                changes.push(format!("inline policy {INLINE_POLICY} put"));
            }
        }
        for name in &inline {
            let ours =
                name == REVOKED_POLICY || (name == INLINE_POLICY && d.inline_policy.is_some());
            if !ours && self.delete_inline(&d.role_name, name).await? {
                changes.push(format!("deleted inline policy {name}"));
            }
        }
        let want: BTreeSet<String> = d.system_policies.iter().cloned().collect();
        let have = self.attached(&d.role_name).await?;
        for arn in want.difference(&have) {
            self.call(
                "AttachRolePolicy",
                p(&[("RoleName", &d.role_name), ("PolicyArn", arn)]),
            )
            .await?;
            changes.push(format!("attached {arn}"));
        }
        for arn in have.difference(&want) {
            match self
                .call(
                    "DetachRolePolicy",
                    p(&[("RoleName", &d.role_name), ("PolicyArn", arn)]),
                )
                .await
            {
                Ok(_) => changes.push(format!("detached {arn}")),
                Err(f) if not_found(&f) => {}
                Err(f) => return Err(f),
            }
        }
        Ok(changes)
    }

    /// How the role differs from `d` (empty: it matches). Reads only.
    pub async fn drift(&mut self, d: &DesiredRole) -> Result<Vec<String>, CloudFault> {
        let Some(role) = self.get_role(&d.role_name).await? else {
            return Ok(vec![format!("role {} no longer exists", d.role_name)]);
        };
        let mut out = Vec::new();
        if !same_document(&role.trust, &d.trust_policy) {
            out.push("the trust policy was changed".to_string());
        }
        if role.max_session != Some(d.max_session_secs) {
            out.push(format!(
                "maximum session is {} s, should be {} s",
                role.max_session.map_or("unset".into(), |m| m.to_string()),
                d.max_session_secs
            ));
        }
        let inline = self.inline_names(&d.role_name).await?;
        if let Some(doc) = &d.inline_policy {
            match self.inline_document(&d.role_name, INLINE_POLICY).await? {
                None => out.push(format!("inline policy {INLINE_POLICY} no longer exists")),
                Some(current) if !same_document(&current, doc) => {
                    out.push(format!("inline policy {INLINE_POLICY} was changed"));
                }
                Some(_) => {}
            }
        }
        for name in &inline {
            let ours =
                name == REVOKED_POLICY || (name == INLINE_POLICY && d.inline_policy.is_some());
            if !ours {
                out.push(format!("inline policy {name} was added outside Gatehouse"));
            }
        }
        let want: BTreeSet<String> = d.system_policies.iter().cloned().collect();
        let have = self.attached(&d.role_name).await?;
        for arn in want.difference(&have) {
            out.push(format!("policy {arn} is not attached"));
        }
        for arn in have.difference(&want) {
            out.push(format!("policy {arn} was attached outside Gatehouse"));
        }
        Ok(out)
    }

    /// Deletes the role and its policies; a role already gone is fine.
    pub async fn deprovision(&mut self, role_name: &str) -> Result<Vec<String>, CloudFault> {
        let mut changes = Vec::new();
        if self.get_role(role_name).await?.is_none() {
            return Ok(changes);
        }
        for arn in self.attached(role_name).await? {
            match self
                .call(
                    "DetachRolePolicy",
                    p(&[("RoleName", role_name), ("PolicyArn", &arn)]),
                )
                .await
            {
                Ok(_) => changes.push(format!("detached {arn}")),
                Err(f) if not_found(&f) => {}
                Err(f) => return Err(f),
            }
        }
        for name in self.inline_names(role_name).await? {
            if self.delete_inline(role_name, &name).await? {
                changes.push(format!("deleted inline policy {name}"));
            }
        }
        match self.call("DeleteRole", p(&[("RoleName", role_name)])).await {
            Ok(_) => changes.push(format!("deleted role {role_name}")),
            Err(f) if not_found(&f) => {}
            Err(f) => return Err(f),
        }
        Ok(changes)
    }

    /// Makes the role's `GatehouseRevokedSessions` policy deny exactly `sessions` (tokens
    /// issued before `before`), or deletes it when there are none. A role that is gone has
    /// no sessions left to deny.
    pub async fn deny_sessions(
        &mut self,
        role_name: &str,
        sessions: &[String],
        before: &str,
    ) -> Result<(), CloudFault> {
        if sessions.is_empty() {
            self.delete_inline(role_name, REVOKED_POLICY).await?;
            return Ok(());
        }
        let doc = revoked_document(sessions, before);
        match self
            .call(
                "PutRolePolicy",
                p(&[
                    ("RoleName", role_name),
                    ("PolicyName", REVOKED_POLICY),
                    ("PolicyDocument", &doc),
                ]),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(f) if not_found(&f) => Ok(()),
            Err(f) => Err(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_documents_are_told_from_ram_ones_and_checked() {
        let iam = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}"#;
        assert!(is_iam_document(iam));
        assert!(check_document(iam).is_ok());
        assert!(!is_iam_document(r#"{"Version":"1","Statement":[]}"#));
        assert!(!is_iam_document("not json"));
        let no_resource = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*"}}"#;
        assert!(check_document(no_resource)
            .unwrap_err()
            .contains("Resource"));
        let principal = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}}"#;
        assert!(check_document(principal).unwrap_err().contains("Principal"));
        let effect = r#"{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"*","Resource":"*"}}"#;
        assert!(check_document(effect).unwrap_err().contains("Effect"));
    }

    #[test]
    fn documents_come_back_url_encoded() {
        assert_eq!(
            decode_document("%7B%22Version%22%3A%222012-10-17%22%7D"),
            r#"{"Version":"2012-10-17"}"#
        );
        assert_eq!(decode_document(r#"{"a":1}"#), r#"{"a":1}"#);
    }

    #[test]
    fn the_revocation_denies_only_those_sessions_issued_before() {
        let d: Value = serde_json::from_str(&revoked_document(
            &["alice.1a2b3c4d".into()],
            "2026-12-07T10:00:00Z",
        ))
        .unwrap();
        let s = &d["Statement"][0];
        assert_eq!(s["Effect"], "Deny");
        assert_eq!(
            s["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "2026-12-07T10:00:00Z"
        );
        assert_eq!(
            s["Condition"]["StringLike"]["aws:userid"][0],
            "*:alice.1a2b3c4d"
        );
    }
}
