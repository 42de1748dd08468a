//! The forms credentials are handed out in, each in the account's provider's own terms:
//! shell `export` lines (`ALIBABA_CLOUD_*` or `AWS_*`), a CLI profile (an `aliyun configure
//! set` command, or an AWS CLI profile using `credential_process`), and `credential_process`
//! JSON (AWS's format, `Version` 1, which `gatehouse credentials` prints for both).

use gatehouse_shared::portal::CredentialFormats;
use serde_json::json;

use crate::sts::Issued;

/// `'…'` for a POSIX shell: safe for any value.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub fn shell(ak: &str, secret: &str, token: &str) -> String {
    format!(
        "export ALIBABA_CLOUD_ACCESS_KEY_ID={}\nexport ALIBABA_CLOUD_ACCESS_KEY_SECRET={}\nexport ALIBABA_CLOUD_SECURITY_TOKEN={}\n",
        quote(ak),
        quote(secret),
        quote(token)
    )
}

/// `export AWS_…` lines for credentials of an `aws` account: what the AWS CLI and SDKs read.
pub fn aws_shell(ak: &str, secret: &str, token: &str) -> String {
    format!(
        "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_SESSION_TOKEN={}\n",
        quote(ak),
        quote(secret),
        quote(token)
    )
}

/// An AWS CLI profile for `~/.aws/config` that fetches fresh credentials on every use
/// through `credential_process` and a credentials URL from the portal, and, for these
/// credentials until they expire, the `aws configure set` commands.
pub fn aws_cli(profile: &str, ak: &str, secret: &str, token: &str, expiration: &str) -> String {
    format!(
        "# ~/.aws/config: fresh credentials on every call. Create a credentials URI for this\n\
         # account and permission set in the portal (Credentials URIs), and put it here:\n\
         [profile {profile}]\n\
         credential_process = gatehouse credentials --uri <credentials-url>\n\
         \n\
         # Or these credentials, until {expiration}:\n{}",
        aws_configure(profile, ak, secret, token)
    )
}

/// `aws configure set` commands that put these credentials in a named AWS CLI profile.
pub fn aws_configure(profile: &str, ak: &str, secret: &str, token: &str) -> String {
    format!(
        "aws configure set --profile {p} aws_access_key_id {}\n\
         aws configure set --profile {p} aws_secret_access_key {}\n\
         aws configure set --profile {p} aws_session_token {}\n",
        quote(ak),
        quote(secret),
        quote(token),
        p = quote(profile),
    )
}

/// An `aliyun configure set` command for an `StsToken` profile named after the account
/// and role.
pub fn aliyun_cli(profile: &str, ak: &str, secret: &str, token: &str) -> String {
    format!(
        "aliyun configure set --profile {} --mode StsToken --region cn-hangzhou \\\n  --access-key-id {} \\\n  --access-key-secret {} \\\n  --sts-token {}\n",
        quote(profile),
        quote(ak),
        quote(secret),
        quote(token)
    )
}

/// `credential_process` output (AWS CLI/SDK format, `Version` 1).
pub fn credential_process(ak: &str, secret: &str, token: &str, expiration: &str) -> String {
    json!({
        "Version": 1,
        "AccessKeyId": ak,
        "SecretAccessKey": secret,
        "SessionToken": token,
        "Expiration": expiration,
    })
    .to_string()
}

/// Whether credentials are an `aws` account's: their role is an IAM role.
pub fn is_aws(issued: &Issued) -> bool {
    issued.role_arn.starts_with("arn:aws:")
}

pub fn all(issued: &Issued) -> CredentialFormats {
    let c = &issued.credential;
    let secret = c.access_key_secret.as_str();
    if is_aws(issued) {
        // `gatehouse-<account>-<permission set>`: the role name without its prefix.
        let set = issued
            .claims
            .role
            .strip_prefix(crate::permission_sets::ROLE_PREFIX)
            .unwrap_or(&issued.claims.role);
        let profile = format!("gatehouse-{}-{set}", issued.claims.acc);
        let expiration = issued.expiration();
        return CredentialFormats {
            shell: aws_shell(&c.access_key_id, secret, &c.security_token),
            aliyun_cli: String::new(),
            aws_cli: Some(aws_cli(
                &profile,
                &c.access_key_id,
                secret,
                &c.security_token,
                &expiration,
            )),
            credential_process: credential_process(
                &c.access_key_id,
                secret,
                &c.security_token,
                &expiration,
            ),
        };
    }
    let profile = format!("gatehouse-{}-{}", issued.claims.acc, issued.claims.role);
    CredentialFormats {
        aws_cli: None,
        shell: shell(&c.access_key_id, secret, &c.security_token),
        aliyun_cli: aliyun_cli(&profile, &c.access_key_id, secret, &c.security_token),
        credential_process: credential_process(
            &c.access_key_id,
            secret,
            &c.security_token,
            &issued.expiration(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_values_are_quoted_even_with_quotes_inside() {
        let s = shell("STS.a", "it's", "t");
        assert!(s.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET='it'\\''s'"));
    }

    #[test]
    fn aws_shell_exports_what_the_aws_sdks_read() {
        let s = aws_shell("ASIA1", "it's", "t");
        assert!(s.contains("export AWS_ACCESS_KEY_ID='ASIA1'\n"), "{s}");
        assert!(
            s.contains("export AWS_SECRET_ACCESS_KEY='it'\\''s'\n"),
            "{s}"
        );
        assert!(s.contains("export AWS_SESSION_TOKEN='t'\n"), "{s}");
        assert!(!s.contains("ALIBABA"), "{s}");
    }

    #[test]
    fn the_aws_cli_profile_uses_credential_process() {
        let s = aws_cli(
            "gatehouse-123456789012-Ops",
            "ASIA1",
            "s",
            "t",
            "2026-01-01T00:00:00Z",
        );
        assert!(s.contains("[profile gatehouse-123456789012-Ops]\n"), "{s}");
        assert!(
            s.contains("credential_process = gatehouse credentials --uri <credentials-url>\n"),
            "{s}"
        );
        assert!(s.contains("aws_session_token 't'"), "{s}");
    }

    #[test]
    fn credential_process_has_the_aws_fields() {
        let v: serde_json::Value = serde_json::from_str(&credential_process(
            "STS.a",
            "s",
            "t",
            "2026-01-01T00:00:00Z",
        ))
        .unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["SecretAccessKey"], "s");
        assert_eq!(v["SessionToken"], "t");
    }
}
