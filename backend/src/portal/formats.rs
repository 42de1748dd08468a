//! The forms credentials are handed out in: shell `export` lines, an Alibaba Cloud CLI
//! profile command, and AWS-style `credential_process` JSON.

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

pub fn all(issued: &Issued) -> CredentialFormats {
    let c = &issued.credential;
    let secret = c.access_key_secret.as_str();
    let profile = format!("gatehouse-{}-{}", issued.claims.acc, issued.claims.role);
    CredentialFormats {
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
