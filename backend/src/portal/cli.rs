//! `gatehouse credentials --uri <url>`: fetches credentials from a `credentials_uri` (either
//! shape: Alibaba Cloud's, or AWS's container-credentials JSON for `aws` accounts) and
//! prints them as `credential_process` JSON, so AWS-style tools (boto3, the AWS CLI's
//! `credential_process`) can use Gatehouse credentials. Errors name the server's `Code`
//! and `Message`, never a credential.

use std::time::Duration;

use anyhow::{bail, Context as _};
use serde::Deserialize;

use super::formats;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UriReply {
    code: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    access_key_id: Option<String>,
    /// `SecretAccessKey` in an `aws` account's (container-credentials) reply.
    #[serde(default, alias = "SecretAccessKey")]
    access_key_secret: Option<String>,
    /// `Token` in an `aws` account's reply.
    #[serde(default, alias = "Token")]
    security_token: Option<String>,
    #[serde(default)]
    expiration: Option<String>,
}

pub async fn credential_process(uri: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    // The URL is a capability: errors below name only its host.
    let host = reqwest::Url::parse(uri)
        .context("the credentials URL is not a valid URL")?
        .host_str()
        .unwrap_or_default()
        .to_string();
    let resp = client
        .get(uri)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach {host}: {}", e.without_url()))?;
    let status = resp.status();
    let reply: UriReply = resp
        .json()
        .await
        .map_err(|_| anyhow::anyhow!("{host} answered {status} without credentials JSON"))?;
    if reply.code != "Success" {
        bail!(
            "{host} refused: {} ({})",
            reply.message.unwrap_or_default(),
            reply.code
        );
    }
    let (Some(ak), Some(secret), Some(token), Some(expiration)) = (
        reply.access_key_id,
        reply.access_key_secret,
        reply.security_token,
        reply.expiration,
    ) else {
        bail!("{host} answered Success without all four credential fields");
    };
    Ok(formats::credential_process(
        &ak,
        &secret,
        &token,
        &expiration,
    ))
}
