//! Which cloud an account lives in, and what Gatehouse tells people about it: the provider
//! and site of an account, what the cloud answered when a call failed, the one-time setup
//! kit an account's owner runs, and a console sign-in.

use serde::{Deserialize, Serialize};

/// Who grants access in an account. `local` is Gatehouse's own STS (demos, tests,
/// air-gapped evaluation); `alibaba` is a real Alibaba Cloud account; `aws` a real AWS
/// account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    #[default]
    Local,
    Alibaba,
    Aws,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Local, Provider::Alibaba, Provider::Aws];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Local => "local",
            Provider::Alibaba => "alibaba",
            Provider::Aws => "aws",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Provider::Local => "Local (Gatehouse STS)",
            Provider::Alibaba => "Alibaba Cloud",
            Provider::Aws => "AWS",
        }
    }

    /// How many digits an account ID has in this provider: AWS's are 12, Alibaba Cloud's
    /// (and Gatehouse's own, named like them) 16.
    pub fn account_id_digits(self) -> usize {
        match self {
            Provider::Aws => 12,
            Provider::Local | Provider::Alibaba => 16,
        }
    }
}

/// Which Alibaba Cloud site an account signs in on: each has its own role-SSO endpoint
/// and SAML audience.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlibabaSite {
    #[default]
    International,
    China,
}

impl AlibabaSite {
    pub const ALL: [AlibabaSite; 2] = [AlibabaSite::International, AlibabaSite::China];

    pub fn as_str(self) -> &'static str {
        match self {
            AlibabaSite::International => "international",
            AlibabaSite::China => "china",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            AlibabaSite::International => "International (alibabacloud.com)",
            AlibabaSite::China => "China (aliyun.com)",
        }
    }

    /// The role-based SSO endpoint: the SAML Recipient and where console sign-in posts.
    pub fn signin_url(self) -> &'static str {
        match self {
            AlibabaSite::International => "https://signin.alibabacloud.com/saml-role/sso",
            AlibabaSite::China => "https://signin.aliyun.com/saml-role/sso",
        }
    }

    /// The SAML audience: Alibaba Cloud's service-provider entity ID on this site.
    pub fn audience(self) -> &'static str {
        match self {
            AlibabaSite::International => "urn:alibaba:cloudcomputing:international",
            AlibabaSite::China => "urn:alibaba:cloudcomputing",
        }
    }
}

/// What a cloud answered when a call failed: shown on the page as it came, so the owner
/// can look it up (Alibaba's `Code`, `Message` and `RequestId`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudFault {
    /// The cloud's error code (`EntityNotExist.Role`), or Gatehouse's own when the cloud
    /// could not be reached or answered nonsense (`Unreachable`, `BadResponse`).
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The API action that failed (`CreateRole`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// `GET /api/v1/accounts/{id}/setup-kit`: what an account's owner runs once so that
/// Gatehouse can provision roles and issue credentials there without an AccessKey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupKit {
    pub account_id: String,
    pub provider: Provider,
    pub site: AlibabaSite,
    /// The SAML provider the kit creates, and its ARN.
    pub saml_provider_name: String,
    pub saml_provider_arn: String,
    /// The role Gatehouse assumes to manage `GatehouseSSO-*` roles and policies.
    pub provisioner_role_arn: String,
    /// Where Gatehouse publishes its IdP metadata (stable across key rollovers).
    pub metadata_url: String,
    /// The metadata as of now, to upload.
    pub metadata_xml: String,
    /// The same steps in three forms: `aliyun` CLI commands, a Terraform file and a
    /// Resource Orchestration Service (ROS) template.
    pub cli: String,
    pub terraform: String,
    pub ros_template: String,
    /// The steps as API calls (what the three forms do), in order.
    pub steps: Vec<SetupStep>,
}

/// One API call of the setup kit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupStep {
    /// `ims` or `ram`.
    pub product: String,
    /// The API version (`2019-08-15`, `2015-05-01`).
    pub version: String,
    pub action: String,
    pub parameters: Vec<(String, String)>,
    pub description: String,
}

/// `POST /api/v1/portal/console`: open the console of one account as one permission set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsoleRequest {
    pub account_id: String,
    pub permission_set_id: String,
}

/// How the browser signs in to the console: follow `url`, or post `fields` to it as a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSignIn {
    /// `GET` or `POST`.
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<(String, String)>,
}

/// `GET /api/v1/cloud/idp-keys`: one of Gatehouse's SAML IdP signing keys (never the
/// private key). `next` is published in the metadata but does not sign yet; `active` signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpKey {
    pub id: String,
    /// `next`, `active` or `retired`.
    pub state: String,
    /// SHA-256 of the certificate (hex), as `openssl x509 -fingerprint -sha256` shows it.
    pub fingerprint: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub activated_at: Option<time::OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
        }
        for s in AlibabaSite::ALL {
            assert_eq!(AlibabaSite::parse(s.as_str()), Some(s));
        }
        assert_eq!(Provider::parse("aws"), Some(Provider::Aws));
        assert_eq!(Provider::parse("gcp"), None);
        assert_eq!(Provider::Aws.label(), "AWS");
        assert_eq!(Provider::default(), Provider::Local);
    }

    #[test]
    fn sites_have_their_own_endpoint_and_audience() {
        assert_ne!(
            AlibabaSite::China.signin_url(),
            AlibabaSite::International.signin_url()
        );
        assert_eq!(
            AlibabaSite::International.audience(),
            "urn:alibaba:cloudcomputing:international"
        );
    }
}
