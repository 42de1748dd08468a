//! The five task policies a root session can be limited to, after AWS's privileged root
//! tasks (`IAMAuditRootUserCredentials`, `IAMCreateRootUserPassword`,
//! `IAMDeleteRootUserCredentials`, `S3UnlockBucketPolicy`, `SQSUnlockQueuePolicy`), written
//! as RAM policy documents for one account. The `/sts/` API and the simulator both decide
//! with exactly these documents.

use gatehouse_shared::breakglass::RootTask;

use crate::policy::RamPolicy;

/// The task's RAM policy document for `account_id`.
pub fn policy_document(task: RootTask, account_id: &str) -> String {
    let root = format!("acs:ram:*:{account_id}:root");
    let (actions, resource): (&[&str], String) = match task {
        RootTask::AuditRootCredentials => (
            &[
                "ram:GetLoginProfile",
                "ram:ListAccessKeys",
                "ram:GetAccessKeyLastUsed",
                "ram:ListVirtualMFADevices",
                "ram:GetUserMFAInfo",
            ],
            root,
        ),
        RootTask::CreateRootPassword => (&["ram:CreateLoginProfile", "ram:GetLoginProfile"], root),
        RootTask::DeleteRootCredentials => (
            &[
                "ram:GetLoginProfile",
                "ram:DeleteLoginProfile",
                "ram:ListAccessKeys",
                "ram:DeleteAccessKey",
                "ram:ListVirtualMFADevices",
                "ram:UnbindMFADevice",
                "ram:DeleteVirtualMFADevice",
            ],
            root,
        ),
        RootTask::UnlockBucketPolicy => (
            &["oss:GetBucketPolicy", "oss:DeleteBucketPolicy"],
            format!("acs:oss:*:{account_id}:*"),
        ),
        RootTask::UnlockQueuePolicy => (
            &["mns:GetQueueAttributes", "mns:SetQueueAttributes"],
            format!("acs:mns:*:{account_id}:/queues/*"),
        ),
    };
    serde_json::to_string_pretty(&serde_json::json!({
        "Version": "1",
        "Statement": [{ "Effect": "Allow", "Action": actions, "Resource": resource }],
    }))
    .unwrap_or_default()
}

/// The task policy, parsed; `None` only if a document above were malformed (a unit test
/// holds every one to parsing).
pub fn policy(task: RootTask, account_id: &str) -> Option<RamPolicy> {
    RamPolicy::parse(&policy_document(task, account_id)).ok()
}

/// `acs:ram::<account>:root`, the principal a root session acts as.
pub fn root_arn(account_id: &str) -> String {
    format!("acs:ram::{account_id}:root")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{evaluate, Request};

    #[test]
    fn every_task_policy_parses_and_allows_only_its_task() {
        let acc = "1234567890123456";
        for task in RootTask::ALL {
            let p = policy(task, acc).expect("the task policy parses");
            let allows = |a: &str, r: &str| evaluate(&Request::new(a, r), &[&p]).is_allowed();
            assert!(!allows(
                "sts:AssumeRole",
                "acs:ram::1234567890123456:role/x"
            ));
            assert!(!allows("ecs:DeleteInstance", "*"));
            let root = format!("acs:ram:*:{acc}:root");
            assert_eq!(
                allows("ram:DeleteLoginProfile", &root),
                task == RootTask::DeleteRootCredentials
            );
            assert_eq!(
                allows(
                    "oss:DeleteBucketPolicy",
                    &format!("acs:oss:*:{acc}:my-bucket")
                ),
                task == RootTask::UnlockBucketPolicy
            );
            // Another account's bucket is never in reach.
            assert!(!allows(
                "oss:DeleteBucketPolicy",
                "acs:oss:*:6543210987654321:b"
            ));
        }
    }
}
