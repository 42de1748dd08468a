//! One policy set, three engines: Gatehouse's RAM policy engine, and the `cedar-policy`
//! crate evaluating the same 20 statements written in Cedar, in two styles:
//!
//! - **Cedar (`like`)**: actions matched with `like` on the (lower-cased) action name in the
//!   context, so that, as in RAM, a wildcard covers *any* action, known or not;
//! - **Cedar (action groups)**: Cedar's idiomatic form, every action wildcard a group
//!   entity (`Action::"ecs:describe*"`) and every known action a member of the groups it
//!   matches, worked out once when the entity store is built. Only actions in
//!   [`ACTION_CATALOGUE`] can match a wildcard this way.
//!
//! Resources are entities whose `arn` attribute is matched with `like`; `IpAddress`
//! becomes `isInRange` on an `ipaddr` value, `StringLike` becomes `like`, `DateLessThan`
//! becomes `<` on `datetime` values; `Deny` becomes `forbid`. A RAM condition on a key the
//! request does not carry does not hold; the Cedar policies say so with `context has`, so
//! that Cedar never evaluates with an error (the equivalence test checks it does not).
//!
//! Cedar's `like` is case-sensitive and RAM's actions are not, so the Cedar requests carry
//! the action folded to lower case and the Cedar policies are written in lower case.
//! Gatehouse folds the action itself, inside `evaluate`.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet,
    RestrictedExpression,
};
use gatehouse::policy::{evaluate, DecisionEffect, RamPolicy};

/// The RAM policy: 20 statements, Allow and Deny mixed, wildcard actions and resources,
/// and three condition operators (`IpAddress`, `StringLike`, `DateLessThan`).
pub const RAM_POLICY: &str = r#"{
  "Version": "1",
  "Statement": [
    {"Sid": "S01", "Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"},
    {"Sid": "S02", "Effect": "Allow",
     "Action": ["ecs:StartInstance", "ecs:StopInstance", "ecs:RebootInstance"],
     "Resource": "acs:ecs:*:*:instance/i-dev-*"},
    {"Sid": "S03", "Effect": "Allow", "Action": "ecs:*",
     "Resource": "acs:ecs:*:*:instance/i-prod-*",
     "Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}},
    {"Sid": "S04", "Effect": "Deny", "Action": "ecs:DeleteInstance",
     "Resource": "acs:ecs:*:*:instance/i-prod-*"},
    {"Sid": "S05", "Effect": "Allow", "Action": ["oss:Get*", "oss:List*"],
     "Resource": ["acs:oss:*:*:reports-bucket", "acs:oss:*:*:reports-bucket/*"]},
    {"Sid": "S06", "Effect": "Allow", "Action": "oss:PutObject",
     "Resource": "acs:oss:*:*:uploads-*/incoming/*",
     "Condition": {"StringLike": {"acs:PrincipalARN": "acs:ram::*:role/uploader-*"}}},
    {"Sid": "S07", "Effect": "Deny", "Action": "oss:Delete*",
     "Resource": "acs:oss:*:*:reports-bucket/*"},
    {"Sid": "S08", "Effect": "Allow",
     "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
     "Resource": "acs:kms:cn-hangzhou:*:key/*",
     "Condition": {"DateLessThan": {"acs:CurrentTime": "2027-01-01T00:00:00Z"}}},
    {"Sid": "S09", "Effect": "Deny", "Action": "kms:*", "Resource": "*",
     "Condition": {"IpAddress": {"acs:SourceIp": "203.0.113.0/24"}}},
    {"Sid": "S10", "Effect": "Allow", "Action": "rds:Describe*",
     "Resource": "acs:rds:*:*:dbinstance/*"},
    {"Sid": "S11", "Effect": "Allow", "Action": "rds:Modify*",
     "Resource": "acs:rds:*:*:dbinstance/rm-staging-*",
     "Condition": {"StringLike": {"acs:PrincipalARN":
       ["acs:ram::*:role/dba-*", "acs:ram::*:role/admin"]}}},
    {"Sid": "S12", "Effect": "Deny", "Action": "rds:Delete*", "Resource": "*",
     "Condition": {"StringLike": {"acs:PrincipalARN": "acs:ram::*:role/contractor-*"}}},
    {"Sid": "S13", "Effect": "Allow", "Action": ["vpc:Describe*", "slb:Describe*"],
     "Resource": "*"},
    {"Sid": "S14", "Effect": "Allow", "Action": ["ram:Get*", "ram:List*"], "Resource": "*",
     "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}},
    {"Sid": "S15", "Effect": "Deny", "Action": ["ram:Create*", "ram:Delete*", "ram:Attach*"],
     "Resource": "*"},
    {"Sid": "S16", "Effect": "Allow", "Action": ["log:GetLogStore*", "log:PostLogStoreLogs"],
     "Resource": "acs:log:*:*:project/app-*/logstore/*"},
    {"Sid": "S17", "Effect": "Allow", "Action": "cms:*", "Resource": "*",
     "Condition": {"DateLessThan": {"acs:CurrentTime": "2027-01-01T00:00:00Z"}}},
    {"Sid": "S18", "Effect": "Deny", "Action": ["ecs:Stop*", "ecs:Reboot*"],
     "Resource": "acs:ecs:*:*:instance/i-prod-*",
     "Condition": {"StringLike": {"acs:PrincipalARN": "acs:ram::*:role/contractor-*"}}},
    {"Sid": "S19", "Effect": "Allow", "Action": "sts:AssumeRole",
     "Resource": "acs:ram::*:role/app-*",
     "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"},
                   "StringLike": {"acs:PrincipalARN": "acs:ram::*:user/*"}}},
    {"Sid": "S20", "Effect": "Allow", "Action": ["ecs:CreateSnapshot", "ecs:DescribeSnapshots"],
     "Resource": ["acs:ecs:*:*:snapshot/*", "acs:ecs:*:*:disk/d-prod-*"],
     "Condition": {"DateLessThan": {"acs:CurrentTime": "2027-01-01T00:00:00Z"},
                   "IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}}
  ]
}"#;

/// The same 20 statements in Cedar, actions matched with `like` on `context.action` (the
/// request's action, lower-cased). Policy `policyN` is statement `S(N+1)`.
pub const CEDAR_LIKE_POLICIES: &str = r#"
// S01
permit (principal, action, resource)
when { context.action like "ecs:describe*" };
// S02
permit (principal, action, resource)
when {
  (context.action == "ecs:startinstance" || context.action == "ecs:stopinstance" ||
   context.action == "ecs:rebootinstance") &&
  resource.arn like "acs:ecs:*:*:instance/i-dev-*"
};
// S03
permit (principal, action, resource)
when {
  context.action like "ecs:*" && resource.arn like "acs:ecs:*:*:instance/i-prod-*" &&
  context has source_ip &&
  (context.source_ip.isInRange(ip("10.0.0.0/8")) ||
   context.source_ip.isInRange(ip("192.168.0.0/16")))
};
// S04
forbid (principal, action, resource)
when {
  context.action == "ecs:deleteinstance" && resource.arn like "acs:ecs:*:*:instance/i-prod-*"
};
// S05
permit (principal, action, resource)
when {
  (context.action like "oss:get*" || context.action like "oss:list*") &&
  (resource.arn like "acs:oss:*:*:reports-bucket" ||
   resource.arn like "acs:oss:*:*:reports-bucket/*")
};
// S06
permit (principal, action, resource)
when {
  context.action == "oss:putobject" && resource.arn like "acs:oss:*:*:uploads-*/incoming/*" &&
  context has principal_arn && context.principal_arn like "acs:ram::*:role/uploader-*"
};
// S07
forbid (principal, action, resource)
when { context.action like "oss:delete*" && resource.arn like "acs:oss:*:*:reports-bucket/*" };
// S08
permit (principal, action, resource)
when {
  (context.action == "kms:decrypt" || context.action == "kms:encrypt" ||
   context.action == "kms:generatedatakey") &&
  resource.arn like "acs:kms:cn-hangzhou:*:key/*" &&
  context has current_time && context.current_time < datetime("2027-01-01T00:00:00Z")
};
// S09
forbid (principal, action, resource)
when {
  context.action like "kms:*" &&
  context has source_ip && context.source_ip.isInRange(ip("203.0.113.0/24"))
};
// S10
permit (principal, action, resource)
when { context.action like "rds:describe*" && resource.arn like "acs:rds:*:*:dbinstance/*" };
// S11
permit (principal, action, resource)
when {
  context.action like "rds:modify*" && resource.arn like "acs:rds:*:*:dbinstance/rm-staging-*" &&
  context has principal_arn &&
  (context.principal_arn like "acs:ram::*:role/dba-*" ||
   context.principal_arn like "acs:ram::*:role/admin")
};
// S12
forbid (principal, action, resource)
when {
  context.action like "rds:delete*" &&
  context has principal_arn && context.principal_arn like "acs:ram::*:role/contractor-*"
};
// S13
permit (principal, action, resource)
when { context.action like "vpc:describe*" || context.action like "slb:describe*" };
// S14
permit (principal, action, resource)
when {
  (context.action like "ram:get*" || context.action like "ram:list*") &&
  context has source_ip && context.source_ip.isInRange(ip("10.0.0.0/8"))
};
// S15
forbid (principal, action, resource)
when {
  context.action like "ram:create*" || context.action like "ram:delete*" ||
  context.action like "ram:attach*"
};
// S16
permit (principal, action, resource)
when {
  (context.action like "log:getlogstore*" || context.action == "log:postlogstorelogs") &&
  resource.arn like "acs:log:*:*:project/app-*/logstore/*"
};
// S17
permit (principal, action, resource)
when {
  context.action like "cms:*" &&
  context has current_time && context.current_time < datetime("2027-01-01T00:00:00Z")
};
// S18
forbid (principal, action, resource)
when {
  (context.action like "ecs:stop*" || context.action like "ecs:reboot*") &&
  resource.arn like "acs:ecs:*:*:instance/i-prod-*" &&
  context has principal_arn && context.principal_arn like "acs:ram::*:role/contractor-*"
};
// S19
permit (principal, action, resource)
when {
  context.action == "sts:assumerole" && resource.arn like "acs:ram::*:role/app-*" &&
  context has source_ip && context.source_ip.isInRange(ip("10.0.0.0/8")) &&
  context has principal_arn && context.principal_arn like "acs:ram::*:user/*"
};
// S20
permit (principal, action, resource)
when {
  (context.action == "ecs:createsnapshot" || context.action == "ecs:describesnapshots") &&
  (resource.arn like "acs:ecs:*:*:snapshot/*" || resource.arn like "acs:ecs:*:*:disk/d-prod-*") &&
  context has current_time && context.current_time < datetime("2027-01-01T00:00:00Z") &&
  context has source_ip && context.source_ip.isInRange(ip("10.0.0.0/8"))
};
"#;

/// The same 20 statements in idiomatic Cedar: actions in the policy scope, each action
/// wildcard a group entity whose members are the catalogue's actions that match it
/// (see [`cedar_action_entities`]). Action ids are lower case.
pub const CEDAR_GROUP_POLICIES: &str = r#"
// S01
permit (principal, action in Action::"ecs:describe*", resource);
// S02
permit (principal,
  action in [Action::"ecs:startinstance", Action::"ecs:stopinstance", Action::"ecs:rebootinstance"],
  resource)
when { resource.arn like "acs:ecs:*:*:instance/i-dev-*" };
// S03
permit (principal, action in Action::"ecs:*", resource)
when {
  resource.arn like "acs:ecs:*:*:instance/i-prod-*" &&
  context has source_ip &&
  (context.source_ip.isInRange(ip("10.0.0.0/8")) ||
   context.source_ip.isInRange(ip("192.168.0.0/16")))
};
// S04
forbid (principal, action == Action::"ecs:deleteinstance", resource)
when { resource.arn like "acs:ecs:*:*:instance/i-prod-*" };
// S05
permit (principal, action in [Action::"oss:get*", Action::"oss:list*"], resource)
when {
  resource.arn like "acs:oss:*:*:reports-bucket" ||
  resource.arn like "acs:oss:*:*:reports-bucket/*"
};
// S06
permit (principal, action == Action::"oss:putobject", resource)
when {
  resource.arn like "acs:oss:*:*:uploads-*/incoming/*" &&
  context has principal_arn && context.principal_arn like "acs:ram::*:role/uploader-*"
};
// S07
forbid (principal, action in Action::"oss:delete*", resource)
when { resource.arn like "acs:oss:*:*:reports-bucket/*" };
// S08
permit (principal,
  action in [Action::"kms:decrypt", Action::"kms:encrypt", Action::"kms:generatedatakey"],
  resource)
when {
  resource.arn like "acs:kms:cn-hangzhou:*:key/*" &&
  context has current_time && context.current_time < datetime("2027-01-01T00:00:00Z")
};
// S09
forbid (principal, action in Action::"kms:*", resource)
when { context has source_ip && context.source_ip.isInRange(ip("203.0.113.0/24")) };
// S10
permit (principal, action in Action::"rds:describe*", resource)
when { resource.arn like "acs:rds:*:*:dbinstance/*" };
// S11
permit (principal, action in Action::"rds:modify*", resource)
when {
  resource.arn like "acs:rds:*:*:dbinstance/rm-staging-*" &&
  context has principal_arn &&
  (context.principal_arn like "acs:ram::*:role/dba-*" ||
   context.principal_arn like "acs:ram::*:role/admin")
};
// S12
forbid (principal, action in Action::"rds:delete*", resource)
when { context has principal_arn && context.principal_arn like "acs:ram::*:role/contractor-*" };
// S13
permit (principal, action in [Action::"vpc:describe*", Action::"slb:describe*"], resource);
// S14
permit (principal, action in [Action::"ram:get*", Action::"ram:list*"], resource)
when { context has source_ip && context.source_ip.isInRange(ip("10.0.0.0/8")) };
// S15
forbid (principal,
  action in [Action::"ram:create*", Action::"ram:delete*", Action::"ram:attach*"], resource);
// S16
permit (principal,
  action in [Action::"log:getlogstore*", Action::"log:postlogstorelogs"], resource)
when { resource.arn like "acs:log:*:*:project/app-*/logstore/*" };
// S17
permit (principal, action in Action::"cms:*", resource)
when { context has current_time && context.current_time < datetime("2027-01-01T00:00:00Z") };
// S18
forbid (principal, action in [Action::"ecs:stop*", Action::"ecs:reboot*"], resource)
when {
  resource.arn like "acs:ecs:*:*:instance/i-prod-*" &&
  context has principal_arn && context.principal_arn like "acs:ram::*:role/contractor-*"
};
// S19
permit (principal, action == Action::"sts:assumerole", resource)
when {
  resource.arn like "acs:ram::*:role/app-*" &&
  context has source_ip && context.source_ip.isInRange(ip("10.0.0.0/8")) &&
  context has principal_arn && context.principal_arn like "acs:ram::*:user/*"
};
// S20
permit (principal,
  action in [Action::"ecs:createsnapshot", Action::"ecs:describesnapshots"], resource)
when {
  (resource.arn like "acs:ecs:*:*:snapshot/*" || resource.arn like "acs:ecs:*:*:disk/d-prod-*") &&
  context has current_time && context.current_time < datetime("2027-01-01T00:00:00Z") &&
  context has source_ip && context.source_ip.isInRange(ip("10.0.0.0/8"))
};
"#;

/// The action wildcards of the policy (lower case): the group entities of the
/// action-group variant.
pub const ACTION_GROUPS: &[&str] = &[
    "ecs:describe*",
    "ecs:*",
    "oss:get*",
    "oss:list*",
    "oss:delete*",
    "kms:*",
    "rds:describe*",
    "rds:modify*",
    "rds:delete*",
    "vpc:describe*",
    "slb:describe*",
    "ram:get*",
    "ram:list*",
    "ram:create*",
    "ram:delete*",
    "ram:attach*",
    "log:getlogstore*",
    "cms:*",
    "ecs:stop*",
    "ecs:reboot*",
];

/// The actions the action-group variant knows (an application would list every action of
/// every service it serves). Every action of [`cases`] is here.
pub const ACTION_CATALOGUE: &[&str] = &[
    "ecs:DescribeInstances",
    "ecs:DescribeSnapshots",
    "ecs:DescribeDisks",
    "ecs:StartInstance",
    "ecs:StopInstance",
    "ecs:RebootInstance",
    "ecs:DeleteInstance",
    "ecs:RunInstances",
    "ecs:CreateSnapshot",
    "oss:GetObject",
    "oss:ListObjects",
    "oss:PutObject",
    "oss:DeleteObject",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:ScheduleKeyDeletion",
    "rds:DescribeDBInstances",
    "rds:ModifyDBInstanceSpec",
    "rds:DeleteDBInstance",
    "vpc:DescribeVpcs",
    "slb:DescribeLoadBalancers",
    "ram:ListUsers",
    "ram:GetUser",
    "ram:CreateUser",
    "ram:AttachPolicyToUser",
    "log:GetLogStore",
    "log:PostLogStoreLogs",
    "cms:DescribeMetricList",
    "sts:AssumeRole",
];

/// How a request must be decided, and by which statements (1-based, as in the Sids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Allow(&'static [usize]),
    ExplicitDeny(&'static [usize]),
    ImplicitDeny,
}

/// One request, engine-neutral.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub action: &'static str,
    pub resource: &'static str,
    pub source_ip: Option<&'static str>,
    pub principal_arn: Option<&'static str>,
    pub current_time: Option<&'static str>,
    pub expect: Expect,
}

const NOW: &str = "2026-11-23T12:00:00Z";
const LATER: &str = "2027-02-01T00:00:00Z";
const OFFICE_IP: &str = "10.1.2.3";
const ALICE: &str = "acs:ram::123456789012:user/alice";
const CONTRACTOR: &str = "acs:ram::123456789012:role/contractor-bob";

fn case(name: &'static str, action: &'static str, resource: &'static str, expect: Expect) -> Case {
    Case {
        name,
        action,
        resource,
        source_ip: Some(OFFICE_IP),
        principal_arn: Some(ALICE),
        current_time: Some(NOW),
        expect,
    }
}

impl Case {
    fn ip(mut self, ip: Option<&'static str>) -> Self {
        self.source_ip = ip;
        self
    }
    fn principal(mut self, arn: Option<&'static str>) -> Self {
        self.principal_arn = arn;
        self
    }
    fn time(mut self, time: Option<&'static str>) -> Self {
        self.current_time = time;
        self
    }
}

/// The three benchmarked requests.
pub fn late_allow() -> Case {
    case(
        "allowed by a late statement (S20)",
        "ecs:CreateSnapshot",
        "acs:ecs:cn-hangzhou:123456789012:disk/d-prod-42",
        Expect::Allow(&[20]),
    )
}

pub fn explicit_deny() -> Case {
    case(
        "denied explicitly (S04 over S03)",
        "ecs:DeleteInstance",
        "acs:ecs:cn-hangzhou:123456789012:instance/i-prod-001",
        Expect::ExplicitDeny(&[4]),
    )
}

pub fn implicit_deny() -> Case {
    case(
        "implicit deny (nothing matches)",
        "ecs:RunInstances",
        "acs:ecs:cn-hangzhou:123456789012:instance/i-test-9",
        Expect::ImplicitDeny,
    )
}

/// Requests that exercise every statement, each operator holding and failing, an absent
/// key, a mixed-case action and a resource differing only in case.
pub fn cases() -> Vec<Case> {
    use Expect::{Allow, ExplicitDeny, ImplicitDeny};
    let ecs_prod = "acs:ecs:cn-hangzhou:123456789012:instance/i-prod-001";
    let ecs_dev = "acs:ecs:cn-hangzhou:123456789012:instance/i-dev-7";
    let reports = "acs:oss:cn-hangzhou:123456789012:reports-bucket/2026/q3.csv";
    let upload = "acs:oss:cn-hangzhou:123456789012:uploads-eu/incoming/a.bin";
    let key = "acs:kms:cn-hangzhou:123456789012:key/key-1";
    let db_staging = "acs:rds:cn-hangzhou:123456789012:dbinstance/rm-staging-2";
    vec![
        late_allow(),
        explicit_deny(),
        implicit_deny(),
        case(
            "S01 Describe*, no context",
            "ecs:DescribeInstances",
            ecs_prod,
            Allow(&[1]),
        )
        .ip(None)
        .principal(None)
        .time(None),
        case(
            "S01 action in mixed case",
            "ECS:describeINSTANCES",
            ecs_prod,
            Allow(&[1, 3]),
        ),
        case(
            "S02 listed action on a dev instance",
            "ecs:StartInstance",
            ecs_dev,
            Allow(&[2]),
        ),
        case(
            "S02 resource differs only in case",
            "ecs:StartInstance",
            "acs:ecs:cn-hangzhou:123456789012:instance/I-DEV-7",
            ImplicitDeny,
        ),
        case(
            "S03 second CIDR holds",
            "ecs:StartInstance",
            ecs_prod,
            Allow(&[3]),
        )
        .ip(Some("192.168.1.5")),
        case(
            "S03 IpAddress fails",
            "ecs:StartInstance",
            ecs_prod,
            ImplicitDeny,
        )
        .ip(Some("8.8.8.8")),
        case(
            "S03 no source IP",
            "ecs:StartInstance",
            ecs_prod,
            ImplicitDeny,
        )
        .ip(None),
        case(
            "S18 contractor may not stop prod",
            "ecs:StopInstance",
            ecs_prod,
            ExplicitDeny(&[18]),
        )
        .principal(Some(CONTRACTOR)),
        case(
            "S20 also via Describe* (S01)",
            "ecs:DescribeSnapshots",
            "acs:ecs:cn-hangzhou:123456789012:snapshot/s-1",
            Allow(&[1, 20]),
        ),
        case("S05 Get* on reports", "oss:GetObject", reports, Allow(&[5])),
        case(
            "S05 List* on the bucket itself",
            "oss:ListObjects",
            "acs:oss:cn-hangzhou:123456789012:reports-bucket",
            Allow(&[5]),
        ),
        case(
            "S07 Delete* on reports",
            "oss:DeleteObject",
            reports,
            ExplicitDeny(&[7]),
        ),
        case("S06 uploader role", "oss:PutObject", upload, Allow(&[6]))
            .principal(Some("acs:ram::123456789012:role/uploader-ci")),
        case(
            "S06 StringLike fails",
            "oss:PutObject",
            upload,
            ImplicitDeny,
        ),
        case(
            "S06 no principal ARN",
            "oss:PutObject",
            upload,
            ImplicitDeny,
        )
        .principal(None),
        case("S08 before the date", "kms:Decrypt", key, Allow(&[8])),
        case("S08 after the date", "kms:Decrypt", key, ImplicitDeny).time(Some(LATER)),
        // 2026-12-31T23:00:00Z: before the date, though its text sorts after it.
        case(
            "S08 time given with an offset",
            "kms:Encrypt",
            key,
            Allow(&[8]),
        )
        .time(Some("2027-01-01T07:00:00+08:00")),
        case(
            "S09 blocked range denies over S08",
            "kms:Decrypt",
            key,
            ExplicitDeny(&[9]),
        )
        .ip(Some("203.0.113.9")),
        case(
            "S10 rds Describe*",
            "rds:DescribeDBInstances",
            "acs:rds:cn-hangzhou:123456789012:dbinstance/rm-prod-1",
            Allow(&[10]),
        ),
        case(
            "S11 dba role may modify staging",
            "rds:ModifyDBInstanceSpec",
            db_staging,
            Allow(&[11]),
        )
        .principal(Some("acs:ram::123456789012:role/dba-carol")),
        case(
            "S11 second pattern, exact",
            "rds:ModifyDBInstanceSpec",
            db_staging,
            Allow(&[11]),
        )
        .principal(Some("acs:ram::123456789012:role/admin")),
        case(
            "S11 user may not modify",
            "rds:ModifyDBInstanceSpec",
            db_staging,
            ImplicitDeny,
        ),
        case(
            "S12 contractor may not delete",
            "rds:DeleteDBInstance",
            db_staging,
            ExplicitDeny(&[12]),
        )
        .principal(Some(CONTRACTOR)),
        case(
            "S13 vpc Describe*",
            "vpc:DescribeVpcs",
            "acs:vpc:cn-hangzhou:123456789012:vpc/vpc-1",
            Allow(&[13]),
        ),
        case(
            "S13 slb Describe*",
            "slb:DescribeLoadBalancers",
            "acs:slb:cn-hangzhou:123456789012:loadbalancer/lb-1",
            Allow(&[13]),
        ),
        case(
            "S14 List* from the office",
            "ram:ListUsers",
            "acs:ram::123456789012:user/*",
            Allow(&[14]),
        ),
        case(
            "S14 List* from outside",
            "ram:ListUsers",
            "acs:ram::123456789012:user/*",
            ImplicitDeny,
        )
        .ip(Some("8.8.8.8")),
        case(
            "S15 Create* is denied",
            "ram:CreateUser",
            "acs:ram::123456789012:user/mallory",
            ExplicitDeny(&[15]),
        ),
        case(
            "S16 log store",
            "log:PostLogStoreLogs",
            "acs:log:cn-hangzhou:123456789012:project/app-web/logstore/access",
            Allow(&[16]),
        ),
        case(
            "S16 wrong project",
            "log:GetLogStore",
            "acs:log:cn-hangzhou:123456789012:project/infra/logstore/access",
            ImplicitDeny,
        ),
        case(
            "S17 cms:* before the date",
            "cms:DescribeMetricList",
            "*",
            Allow(&[17]),
        ),
        case(
            "S17 no current time",
            "cms:DescribeMetricList",
            "*",
            ImplicitDeny,
        )
        .time(None),
        case(
            "S19 user assumes an app role",
            "sts:AssumeRole",
            "acs:ram::123456789012:role/app-deployer",
            Allow(&[19]),
        ),
        case(
            "S19 a role may not",
            "sts:AssumeRole",
            "acs:ram::123456789012:role/app-deployer",
            ImplicitDeny,
        )
        .principal(Some(CONTRACTOR)),
        case(
            "S20 outside the network",
            "ecs:CreateSnapshot",
            "acs:ecs:cn-hangzhou:123456789012:disk/d-prod-42",
            ImplicitDeny,
        )
        .ip(Some("172.16.0.1")),
    ]
}

/// A decision as every engine can state it: the effect and the deciding statements
/// (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Allow(Vec<usize>),
    ExplicitDeny(Vec<usize>),
    ImplicitDeny,
}

impl From<Expect> for Outcome {
    fn from(e: Expect) -> Self {
        match e {
            Expect::Allow(s) => Outcome::Allow(s.to_vec()),
            Expect::ExplicitDeny(s) => Outcome::ExplicitDeny(s.to_vec()),
            Expect::ImplicitDeny => Outcome::ImplicitDeny,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Gatehouse

pub struct Gatehouse {
    pub policy: RamPolicy,
}

impl Gatehouse {
    pub fn new() -> Self {
        Gatehouse {
            policy: RamPolicy::parse(RAM_POLICY).expect("the RAM policy parses"),
        }
    }

    pub fn request(case: &Case) -> gatehouse::policy::Request {
        let mut context = gatehouse::policy::Context::new();
        if let Some(ip) = case.source_ip {
            context.insert("acs:SourceIp", ip);
        }
        if let Some(arn) = case.principal_arn {
            context.insert("acs:PrincipalARN", arn);
        }
        if let Some(time) = case.current_time {
            context.insert("acs:CurrentTime", time);
        }
        gatehouse::policy::Request::new(case.action, case.resource).with_context(context)
    }

    /// The call that is measured.
    #[inline]
    pub fn evaluate(&self, request: &gatehouse::policy::Request) -> gatehouse::policy::Decision {
        evaluate(request, &[&self.policy])
    }

    pub fn outcome(&self, request: &gatehouse::policy::Request) -> Outcome {
        let decision = self.evaluate(request);
        assert!(decision.errors.is_empty(), "{:?}", decision.errors);
        let deciding: Vec<usize> = decision
            .deciding
            .iter()
            .map(|m| m.statement_index + 1)
            .collect();
        match decision.effect {
            DecisionEffect::Allow => Outcome::Allow(deciding),
            DecisionEffect::ExplicitDeny => Outcome::ExplicitDeny(deciding),
            DecisionEffect::ImplicitDeny => Outcome::ImplicitDeny,
        }
    }
}

impl Default for Gatehouse {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------
// Cedar

/// Which way the Cedar policies match actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CedarStyle {
    Like,
    ActionGroups,
}

pub struct Cedar {
    pub style: CedarStyle,
    pub policies: PolicySet,
    /// Every resource of [`cases`] (with its `arn`), and for [`CedarStyle::ActionGroups`]
    /// the action catalogue and groups: loaded once, as an application keeps its store.
    pub entities: Entities,
    pub authorizer: Authorizer,
}

fn uid(type_name: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(type_name).expect("a valid type name"),
        EntityId::new(id),
    )
}

/// `*`-only glob, for building the action groups (not on the measured path).
pub fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|skip| {
                    text.is_char_boundary(head.len() + skip)
                        && glob(rest, &text[head.len() + skip..])
                })
        }
    }
}

/// The action entities of the action-group variant: each catalogue action (lower case) a
/// member of every group that matches it.
pub fn cedar_action_entities() -> Vec<Entity> {
    let mut entities: Vec<Entity> = ACTION_GROUPS
        .iter()
        .map(|g| Entity::new_no_attrs(uid("Action", g), HashSet::new()))
        .collect();
    for action in ACTION_CATALOGUE {
        let action = action.to_ascii_lowercase();
        let parents: HashSet<EntityUid> = ACTION_GROUPS
            .iter()
            .filter(|g| glob(g, &action))
            .map(|g| uid("Action", g))
            .collect();
        entities.push(Entity::new_no_attrs(uid("Action", &action), parents));
    }
    entities
}

fn resource_entity(arn: &str) -> Entity {
    Entity::new(
        uid("Resource", arn),
        HashMap::from([(
            "arn".to_owned(),
            RestrictedExpression::new_string(arn.to_owned()),
        )]),
        HashSet::new(),
    )
    .expect("a resource entity")
}

impl Cedar {
    pub fn new(style: CedarStyle) -> Self {
        let text = match style {
            CedarStyle::Like => CEDAR_LIKE_POLICIES,
            CedarStyle::ActionGroups => CEDAR_GROUP_POLICIES,
        };
        let policies = PolicySet::from_str(text).expect("the Cedar policies parse");
        let mut entities = match style {
            CedarStyle::Like => Vec::new(),
            CedarStyle::ActionGroups => cedar_action_entities(),
        };
        let mut seen = HashSet::new();
        for case in cases() {
            if seen.insert(case.resource) {
                entities.push(resource_entity(case.resource));
            }
        }
        let entities = Entities::from_entities(entities, None).expect("the entity store");
        Cedar {
            style,
            policies,
            entities,
            authorizer: Authorizer::new(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self.style {
            CedarStyle::Like => "cedar (like)",
            CedarStyle::ActionGroups => "cedar (action groups)",
        }
    }

    /// The request as a Cedar application would build it: the action folded to lower
    /// case, context values typed (`ipaddr`, `datetime`).
    pub fn request(&self, case: &Case) -> cedar_policy::Request {
        let action = case.action.to_ascii_lowercase();
        let mut pairs = Vec::new();
        if self.style == CedarStyle::Like {
            pairs.push((
                "action".to_owned(),
                RestrictedExpression::new_string(action.clone()),
            ));
        }
        if let Some(ip) = case.source_ip {
            pairs.push(("source_ip".to_owned(), RestrictedExpression::new_ip(ip)));
        }
        if let Some(arn) = case.principal_arn {
            pairs.push((
                "principal_arn".to_owned(),
                RestrictedExpression::new_string(arn.to_owned()),
            ));
        }
        if let Some(time) = case.current_time {
            pairs.push((
                "current_time".to_owned(),
                RestrictedExpression::new_datetime(cedar_datetime(time)),
            ));
        }
        let context = Context::from_pairs(pairs).expect("a valid context");
        cedar_policy::Request::new(
            uid("User", "alice"),
            uid("Action", &action),
            uid("Resource", case.resource),
            context,
            None,
        )
        .expect("a valid request")
    }

    /// The call that is measured.
    #[inline]
    pub fn evaluate(&self, request: &cedar_policy::Request) -> cedar_policy::Response {
        self.authorizer
            .is_authorized(request, &self.policies, &self.entities)
    }

    pub fn outcome(&self, request: &cedar_policy::Request) -> Outcome {
        let response = self.evaluate(request);
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        let mut deciding: Vec<usize> = response
            .diagnostics()
            .reason()
            .map(|id| {
                id.to_string()
                    .strip_prefix("policy")
                    .and_then(|n| n.parse::<usize>().ok())
                    .expect("policyN ids")
                    + 1
            })
            .collect();
        deciding.sort_unstable();
        match response.decision() {
            cedar_policy::Decision::Allow => Outcome::Allow(deciding),
            cedar_policy::Decision::Deny if deciding.is_empty() => Outcome::ImplicitDeny,
            cedar_policy::Decision::Deny => Outcome::ExplicitDeny(deciding),
        }
    }
}

/// Cedar's `datetime` takes `Z` or a `±hhmm` offset (no colon); RAM's times use `±hh:mm`.
pub fn cedar_datetime(time: &str) -> String {
    let bytes = time.as_bytes();
    if bytes.len() > 6
        && bytes[bytes.len() - 3] == b':'
        && matches!(bytes[bytes.len() - 6], b'+' | b'-')
    {
        let mut s = time.to_owned();
        s.remove(s.len() - 3);
        s
    } else {
        time.to_owned()
    }
}
