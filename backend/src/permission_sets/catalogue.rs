//! The built-in catalogue of system policies a permission set may name, each marked with
//! its provider: Alibaba Cloud system policies, with their RAM policy documents (version
//! "1"), named as RAM names them; and AWS managed policies, with their IAM documents
//! (version "2012-10-17"), named by their ARN (`arn:aws:iam::aws:policy/<Name>`), as IAM
//! attaches them. A permission set may list both kinds; a role attaches those of its
//! account's provider ([`for_provider`]).
//!
//! Where the document is marked "published", it is the policy content Alibaba Cloud's RAM
//! reference shows for that policy (help.aliyun.com / alibabacloud.com, "Resource Access
//! Management: <PolicyName>"). Where it is marked "equivalent", the official document was
//! not available to us; what is here grants the same access the published description
//! promises, in the same shape.

use gatehouse_shared::cloud::Provider;
use gatehouse_shared::permission_sets::SystemPolicy;

/// One system policy: name, what it grants, its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// Whose policy it is: `Alibaba` (RAM language, also what `local` evaluates) or `Aws`.
    pub provider: Provider,
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
            provider: self.provider,
        }
    }
}

/// Every system policy Gatehouse knows, in the order the console lists them.
pub const CATALOGUE: &[CatalogueEntry] = &[
    // Equivalent: the well-known full-access document (allow every action on every resource).
    CatalogueEntry {
        provider: Provider::Alibaba,
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
        provider: Provider::Alibaba,
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
        provider: Provider::Alibaba,
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
        provider: Provider::Alibaba,
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
        provider: Provider::Alibaba,
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
        provider: Provider::Alibaba,
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
        provider: Provider::Alibaba,
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
        provider: Provider::Alibaba,
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
        provider: Provider::Alibaba,
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
        provider: Provider::Alibaba,
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
    // AWS managed policies. Published: the document AWS's "AWS managed policy reference"
    // shows (docs.aws.amazon.com/aws-managed-policy/latest/reference/<Name>.html).
    // Equivalent: the published document is long (one statement per service); this grants
    // the same access in fewer lines. IAM attaches them by ARN: AWS's own document is
    // what takes effect in the account, whatever is written here.
    // Published (v1).
    CatalogueEntry {
        provider: Provider::Aws,
        name: "arn:aws:iam::aws:policy/AdministratorAccess",
        description: "AWS: provides full access to AWS services and resources.",
        document: r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "*",
      "Resource": "*"
    }
  ]
}"#,
    },
    // Equivalent: every service's read patterns.
    CatalogueEntry {
        provider: Provider::Aws,
        name: "arn:aws:iam::aws:policy/ReadOnlyAccess",
        description: "AWS: provides read-only access to AWS services and resources.",
        document: r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["*:Describe*", "*:Get*", "*:List*", "*:BatchGet*"],
      "Resource": "*"
    }
  ]
}"#,
    },
    // Equivalent: everything but IAM, Organizations and Account management.
    CatalogueEntry {
        provider: Provider::Aws,
        name: "arn:aws:iam::aws:policy/PowerUserAccess",
        description:
            "AWS: provides full access to AWS services and resources, but does not allow management of users and groups.",
        document: r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "NotAction": ["iam:*", "organizations:*", "account:*"],
      "Resource": "*"
    },
    {
      "Effect": "Allow",
      "Action": ["iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole", "iam:ListRoles",
                 "organizations:DescribeOrganization", "account:ListRegions", "account:GetAccountInformation"],
      "Resource": "*"
    }
  ]
}"#,
    },
    // Published (v4).
    CatalogueEntry {
        provider: Provider::Aws,
        name: "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
        description: "AWS: provides read-only access to IAM via the AWS Management Console.",
        document: r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "iam:GenerateCredentialReport",
        "iam:GenerateServiceLastAccessedDetails",
        "iam:Get*",
        "iam:List*",
        "iam:SimulateCustomPolicy",
        "iam:SimulatePrincipalPolicy"
      ],
      "Resource": "*"
    }
  ]
}"#,
    },
    // Published (v3).
    CatalogueEntry {
        provider: Provider::Aws,
        name: "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        description: "AWS: provides read-only access to all buckets via the AWS Management Console.",
        document: r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"],
      "Resource": "*"
    }
  ]
}"#,
    },
    // Equivalent: EC2 reads and the load balancing, CloudWatch and Auto Scaling reads the
    // EC2 console shows, as the published policy grants.
    CatalogueEntry {
        provider: Provider::Aws,
        name: "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess",
        description: "AWS: provides read-only access to Amazon EC2 via the AWS Management Console.",
        document: r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["ec2:Describe*", "ec2:GetSecurityGroupsForVpc", "elasticloadbalancing:Describe*",
                 "cloudwatch:ListMetrics", "cloudwatch:GetMetricStatistics", "cloudwatch:Describe*",
                 "autoscaling:Describe*"],
      "Resource": "*"
    }
  ]
}"#,
    },
];

/// The RAM-language entry named `name`: an Alibaba Cloud system policy, as RAM names them
/// (what the policy engine, the simulator and the `local` STS evaluate).
pub fn find(name: &str) -> Option<&'static CatalogueEntry> {
    CATALOGUE
        .iter()
        .find(|e| e.name == name && e.provider == Provider::Alibaba)
}

/// The entry named `name`, of any provider.
pub fn find_any(name: &str) -> Option<&'static CatalogueEntry> {
    CATALOGUE.iter().find(|e| e.name == name)
}

/// The entries an account of `provider` can use, in catalogue order: AWS managed policies
/// for `aws`; Alibaba Cloud system policies for `alibaba` and for `local` (which evaluates
/// RAM's language).
pub fn entries_for(provider: Provider) -> impl Iterator<Item = &'static CatalogueEntry> {
    let want = match provider {
        Provider::Aws => Provider::Aws,
        Provider::Alibaba | Provider::Local => Provider::Alibaba,
    };
    CATALOGUE.iter().filter(move |e| e.provider == want)
}

/// Of `names` (a permission set's), those a role in a `provider` account attaches: AWS
/// managed policies for `aws`, Alibaba Cloud system policies for `alibaba` and `local`. A
/// name the catalogue does not know (no longer) is kept for the cloud to judge, by its
/// form: an `arn:aws:` name is AWS's.
pub fn for_provider(names: &[String], provider: Provider) -> Vec<String> {
    let want = match provider {
        Provider::Aws => Provider::Aws,
        Provider::Alibaba | Provider::Local => Provider::Alibaba,
    };
    names
        .iter()
        .filter(|n| {
            let p = find_any(n)
                .map(|e| e.provider)
                .unwrap_or(if n.starts_with("arn:aws:") {
                    Provider::Aws
                } else {
                    Provider::Alibaba
                });
            p == want
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{evaluate, Context, DecisionEffect, RamPolicy, Request};

    #[test]
    fn every_document_parses_with_the_policy_engine() {
        for entry in CATALOGUE.iter().filter(|e| e.provider == Provider::Alibaba) {
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

    #[test]
    fn aws_policies_are_iam_documents_named_by_arn_and_attach_only_in_aws() {
        for e in CATALOGUE.iter().filter(|e| e.provider == Provider::Aws) {
            let v: serde_json::Value = serde_json::from_str(e.document).unwrap();
            assert_eq!(v["Version"], "2012-10-17", "{}", e.name);
            assert!(e.name.starts_with("arn:aws:iam::aws:policy/"), "{}", e.name);
            assert!(find(e.name).is_none() && find_any(e.name).is_some());
        }
        let names: Vec<String> = [
            "AdministratorAccess",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::aws:policy/RetiredPolicy",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(for_provider(&names, Provider::Alibaba), names[..1].to_vec());
        assert_eq!(for_provider(&names, Provider::Local), names[..1].to_vec());
        assert_eq!(for_provider(&names, Provider::Aws), names[1..].to_vec());
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
