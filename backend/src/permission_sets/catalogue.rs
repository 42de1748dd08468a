//! The built-in catalogue of Alibaba Cloud system policies a permission set may name, each
//! with its RAM policy document (version "1").
//!
//! Where the document is marked "published", it is the policy content Alibaba Cloud's RAM
//! reference shows for that policy (help.aliyun.com / alibabacloud.com, "Resource Access
//! Management: <PolicyName>"). Where it is marked "equivalent", the official document was
//! not available to us; what is here grants the same access the published description
//! promises, in the same shape.

use gatehouse_shared::permission_sets::SystemPolicy;

/// One system policy: name, what it grants, its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueEntry {
    pub name: &'static str,
    pub description: &'static str,
    pub document: &'static str,
}

impl CatalogueEntry {
    pub fn to_dto(self) -> SystemPolicy {
        SystemPolicy {
            name: self.name.to_string(),
            description: self.description.to_string(),
            document: self.document.to_string(),
        }
    }
}

/// Every system policy Gatehouse knows, in the order the console lists them.
pub const CATALOGUE: &[CatalogueEntry] = &[
    // Equivalent: the well-known full-access document (allow every action on every resource).
    CatalogueEntry {
        name: "AdministratorAccess",
        description: "Provides full access to Alibaba Cloud services and resources.",
        document: r#"{
  "Statement": [
    {
      "Action": "*",
      "Effect": "Allow",
      "Resource": "*"
    }
  ],
  "Version": "1"
}"#,
    },
    // Equivalent: the official document lists each service's read operations
    // ("<service>:Describe*", "Get*", "List*", "Query*", ...) one service at a time; this
    // grants the same read-only patterns for every service.
    CatalogueEntry {
        name: "ReadOnlyAccess",
        description: "Provides read-only access to Alibaba Cloud services and resources.",
        document: r#"{
  "Version": "1",
  "Statement": [
    {
      "Action": [
        "*:Describe*",
        "*:List*",
        "*:Get*",
        "*:BatchGet*",
        "*:Query*",
        "*:Lookup*",
        "*:Check*"
      ],
      "Resource": "*",
      "Effect": "Allow"
    }
  ]
}"#,
    },
    // Equivalent: full ECS access plus the VPC reads and service-linked role creation the
    // ECS console needs, as the published policy grants.
    CatalogueEntry {
        name: "AliyunECSFullAccess",
        description:
            "Provides full access to Elastic Compute Service (ECS) via Management Console.",
        document: r#"{
  "Version": "1",
  "Statement": [
    {
      "Action": ["ecs:*", "ecs-workbench:*"],
      "Resource": "*",
      "Effect": "Allow"
    },
    {
      "Action": [
        "vpc:DescribeVpcs",
        "vpc:DescribeVSwitches",
        "vpc:DescribeVpcAttribute",
        "vpc:DescribeVSwitchAttributes"
      ],
      "Resource": "*",
      "Effect": "Allow"
    },
    {
      "Action": "ram:CreateServiceLinkedRole",
      "Resource": "*",
      "Effect": "Allow",
      "Condition": {
        "StringEquals": {
          "ram:ServiceName": "ecs.aliyuncs.com"
        }
      }
    }
  ]
}"#,
    },
    // Equivalent: ECS reads plus the VPC reads the ECS console shows.
    CatalogueEntry {
        name: "AliyunECSReadOnlyAccess",
        description:
            "Provides read-only access to Elastic Compute Service (ECS) via Management Console.",
        document: r#"{
  "Version": "1",
  "Statement": [
    {
      "Action": ["ecs:Describe*", "ecs:List*"],
      "Resource": "*",
      "Effect": "Allow"
    },
    {
      "Action": ["vpc:DescribeVpcs", "vpc:DescribeVSwitches"],
      "Resource": "*",
      "Effect": "Allow"
    }
  ]
}"#,
    },
    // Equivalent: every OSS action on every resource.
    CatalogueEntry {
        name: "AliyunOSSFullAccess",
        description: "Provides full access to Object Storage Service (OSS) via Management Console.",
        document: r#"{
  "Statement": [
    {
      "Action": "oss:*",
      "Effect": "Allow",
      "Resource": "*"
    }
  ],
  "Version": "1"
}"#,
    },
    // Published (v1).
    CatalogueEntry {
        name: "AliyunOSSReadOnlyAccess",
        description:
            "Provides read-only access to Object Storage Service (OSS) via Management Console.",
        document: r#"{
  "Statement": [
    {
      "Action": ["oss:Get*", "oss:List*"],
      "Effect": "Allow",
      "Resource": "*"
    }
  ],
  "Version": "1"
}"#,
    },
    // Published (v3).
    CatalogueEntry {
        name: "AliyunRAMReadOnlyAccess",
        description:
            "Provides read-only access to Resource Access Management (RAM) via Management Console.",
        document: r#"{
  "Version": "1",
  "Statement": [
    {
      "Action": [
        "ram:Get*",
        "ram:List*",
        "ram:GenerateCredentialReport"
      ],
      "Resource": "*",
      "Effect": "Allow"
    },
    {
      "Effect": "Allow",
      "Action": [
        "accessanalyzer:Get*",
        "accessanalyzer:List*"
      ],
      "Resource": "*"
    }
  ]
}"#,
    },
    // Published (v1).
    CatalogueEntry {
        name: "AliyunSTSAssumeRoleAccess",
        description: "Provides access to the API AssumeRole of Security Token Service (STS).",
        document: r#"{
  "Statement": [
    {
      "Action": "sts:AssumeRole",
      "Effect": "Allow",
      "Resource": "*"
    }
  ],
  "Version": "1"
}"#,
    },
    // Published (v2).
    CatalogueEntry {
        name: "AliyunActionTrailFullAccess",
        description: "Provides full access to ActionTrail via Management Console.",
        document: r#"{
  "Version": "1",
  "Statement": [
    {
      "Action": "actiontrail:*",
      "Resource": "*",
      "Effect": "Allow"
    },
    {
      "Action": "ram:PassRole",
      "Resource": "*",
      "Effect": "Allow",
      "Condition": {
        "StringEquals": {
          "acs:Service": "actiontrail.aliyuncs.com"
        }
      }
    },
    {
      "Action": "ram:CreateServiceLinkedRole",
      "Resource": "*",
      "Effect": "Allow",
      "Condition": {
        "StringEquals": {
          "ram:ServiceName": "actiontrail.aliyuncs.com"
        }
      }
    }
  ]
}"#,
    },
    // Published (v12).
    CatalogueEntry {
        name: "AliyunVPCFullAccess",
        description: "Provides full access to Virtual Private Cloud (VPC) via Management Console.",
        document: r#"{
  "Version": "1",
  "Statement": [
    {
      "Action": [
        "vpc:*HaVip*",
        "vpc:*RouteTable*",
        "vpc:*VRouter*",
        "vpc:*RouteEntry*",
        "vpc:*RouteEntries*",
        "vpc:*VSwitch*",
        "vpc:*Vpc*",
        "vpc:*Cen*",
        "vpc:*Tag*",
        "vpc:*NetworkAcl*",
        "vpc:*FlowLog*",
        "vpc:*Ipv4Gateway*",
        "vpc:*PrefixList*",
        "vpc:*DhcpOptionsSet*",
        "vpc:DeletionProtection",
        "vpc:*TagResource*",
        "vpc:MoveResourceGroup"
      ],
      "Resource": "*",
      "Effect": "Allow"
    }
  ]
}"#,
    },
];

/// The catalogue entry named `name` (exact, as RAM's policy names are).
pub fn find(name: &str) -> Option<&'static CatalogueEntry> {
    CATALOGUE.iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{evaluate, Context, DecisionEffect, RamPolicy, Request};

    #[test]
    fn every_document_parses_with_the_policy_engine() {
        for entry in CATALOGUE {
            if let Err(e) = RamPolicy::parse(entry.document) {
                panic!("{} does not parse: {e}", entry.name);
            }
        }
    }

    #[test]
    fn names_are_unique_and_the_required_ones_are_there() {
        for (i, e) in CATALOGUE.iter().enumerate() {
            assert!(
                !CATALOGUE[..i].iter().any(|o| o.name == e.name),
                "{} twice",
                e.name
            );
        }
        for name in [
            "AdministratorAccess",
            "ReadOnlyAccess",
            "AliyunECSFullAccess",
            "AliyunECSReadOnlyAccess",
            "AliyunOSSFullAccess",
            "AliyunOSSReadOnlyAccess",
            "AliyunRAMReadOnlyAccess",
            "AliyunSTSAssumeRoleAccess",
            "AliyunActionTrailFullAccess",
            "AliyunVPCFullAccess",
        ] {
            assert!(find(name).is_some(), "{name} is missing");
        }
    }

    fn decide(policy: &str, action: &str) -> DecisionEffect {
        let p = RamPolicy::parse(policy).unwrap();
        let req = Request::new(action, "acs:ecs:cn-hangzhou:1234567890123456:instance/i-1")
            .with_context(Context::new());
        evaluate(&req, &[&p]).effect
    }

    #[test]
    fn read_only_reads_and_administrator_does_everything() {
        let read_only = find("ReadOnlyAccess").unwrap().document;
        assert_eq!(
            decide(read_only, "ecs:DescribeInstances"),
            DecisionEffect::Allow
        );
        assert_ne!(
            decide(read_only, "ecs:StartInstance"),
            DecisionEffect::Allow
        );
        let admin = find("AdministratorAccess").unwrap().document;
        assert_eq!(decide(admin, "ecs:StartInstance"), DecisionEffect::Allow);
        let ecs_ro = find("AliyunECSReadOnlyAccess").unwrap().document;
        assert_ne!(decide(ecs_ro, "ecs:DeleteInstance"), DecisionEffect::Allow);
    }
}
