//! Alibaba Cloud's RPC-style OpenAPI over HTTP: a call is `POST /?<parameters>` with the
//! action and version in `x-acs-*` headers, signed with ACS3-HMAC-SHA256 by short-lived STS
//! credentials (or anonymous, for `AssumeRoleWithSAML`). Throttling and 5xx answers are
//! retried with backoff, each attempt signed afresh; every answer's RequestId is kept for
//! the audit trail.
//!
//! No official Rust signer exists; the canonical request is the one `sts::signature`
//! verifies with, and the integration tests compare what this sends with what the official
//! Python SDK sends for the same call (e2e/alibaba).

use std::time::Duration;

use gatehouse_shared::cloud::CloudFault;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::sts::signature::{
    payload_hash, v3_canonical_request, v3_signature, v3_string_to_sign, V3_ALGORITHM,
};

/// Retries after the first attempt, for throttling and 5xx.
const RETRIES: u32 = 3;
const USER_AGENT: &str = concat!("Gatehouse/", env!("CARGO_PKG_VERSION"));

/// STS credentials to sign with. The secret never leaves this process in any form but the
/// HMAC it keys.
pub struct Signer {
    pub access_key_id: String,
    pub access_key_secret: Zeroizing<String>,
    pub security_token: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// One call made, for the audit trail.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub action: String,
    pub request_id: Option<String>,
    /// The error code when it failed.
    pub code: Option<String>,
    pub attempts: u32,
}

/// One API (an endpoint and a version).
#[derive(Debug, Clone)]
pub struct Api<'a> {
    pub http: &'a reqwest::Client,
    /// `https://ram.aliyuncs.com` (a trailing `/` is ignored).
    pub endpoint: &'a str,
    pub version: &'static str,
}

/// The `x-acs-date` form: `2026-12-07T10:00:00Z`.
fn acs_date(now: OffsetDateTime) -> String {
    now.replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The host (with port) of an endpoint URL.
fn host_of(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// Headers and URL of one signed (or anonymous) attempt.
pub struct Prepared {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Builds one attempt: the query in canonical form, the `x-acs-*` headers, and (with a
/// signer) the ACS3-HMAC-SHA256 Authorization over them.
pub fn prepare(
    endpoint: &str,
    version: &str,
    action: &str,
    params: &[(String, String)],
    signer: Option<&Signer>,
    date: &str,
    nonce: &str,
) -> Prepared {
    let host = host_of(endpoint).to_string();
    let empty = payload_hash(b"");
    let mut headers: Vec<(String, String)> = vec![
        ("accept".into(), "application/json".into()),
        ("host".into(), host),
        ("user-agent".into(), USER_AGENT.into()),
        ("x-acs-action".into(), action.into()),
        ("x-acs-content-sha256".into(), empty.clone()),
        ("x-acs-date".into(), date.into()),
        ("x-acs-signature-nonce".into(), nonce.into()),
        ("x-acs-version".into(), version.into()),
    ];
    if let Some(s) = signer {
        headers.push(("x-acs-accesskey-id".into(), s.access_key_id.clone()));
        headers.push(("x-acs-security-token".into(), s.security_token.clone()));
    }
    headers.sort();
    let query = canonical(params);
    if let Some(s) = signer {
        let names: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
        let creq = v3_canonical_request(
            "POST",
            "/",
            params,
            &names,
            |h| {
                headers
                    .iter()
                    .find(|(k, _)| k == h)
                    .map(|(_, v)| v.as_str())
            },
            &empty,
        );
        let signature = v3_signature(&s.access_key_secret, &v3_string_to_sign(&creq));
        headers.push((
            "authorization".into(),
            format!(
                "{V3_ALGORITHM} Credential={},SignedHeaders={},Signature={signature}",
                s.access_key_id,
                names.join(";")
            ),
        ));
    }
    let base = endpoint.trim_end_matches('/');
    let url = if query.is_empty() {
        format!("{base}/")
    } else {
        format!("{base}/?{query}")
    };
    Prepared { url, headers }
}

fn canonical(params: &[(String, String)]) -> String {
    let mut pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                crate::sts::signature::percent_encode(k),
                crate::sts::signature::percent_encode(v)
            )
        })
        .collect();
    pairs.sort();
    pairs.join("&")
}

fn fault(action: &str, code: &str, message: String, request_id: Option<String>) -> CloudFault {
    CloudFault {
        code: code.into(),
        message,
        request_id,
        action: Some(action.into()),
    }
}

impl Api<'_> {
    /// Calls `action`, retrying throttling and 5xx with backoff. Appends what happened to
    /// `log`. A refusal comes back as the cloud's fault; an unreachable endpoint or an
    /// answer that is not the API's as `Unreachable` / `BadResponse`.
    pub async fn call(
        &self,
        action: &str,
        params: &[(String, String)],
        signer: Option<&Signer>,
        log: &mut Vec<CallRecord>,
    ) -> Result<Value, CloudFault> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            // A cloud checks x-acs-date against its own clock: the real one.
            let now =
                crate::clock::to_datetime(crate::clock::Clock::now_ms(&crate::clock::SystemClock));
            let nonce = uuid::Uuid::new_v4().simple().to_string();
            let p = prepare(
                self.endpoint,
                self.version,
                action,
                params,
                signer,
                &acs_date(now),
                &nonce,
            );
            let mut req = self
                .http
                .post(&p.url)
                .header(reqwest::header::CONTENT_LENGTH, "0");
            for (k, v) in &p.headers {
                if k != "host" {
                    req = req.header(k.as_str(), v.as_str());
                }
            }
            let outcome = match req.send().await {
                Err(e) => Err((
                    true,
                    fault(
                        action,
                        "Unreachable",
                        unreachable_text(self.endpoint, &e),
                        None,
                    ),
                )),
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.bytes().await.unwrap_or_default();
                    answer(action, status, &body)
                }
            };
            match outcome {
                Ok(v) => {
                    log.push(CallRecord {
                        action: action.into(),
                        request_id: request_id(&v),
                        code: None,
                        attempts: attempt,
                    });
                    return Ok(v);
                }
                Err((retry, f)) if retry && attempt <= RETRIES => {
                    tracing::info!(action, code = %f.code, attempt, "cloud call will be retried");
                    tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt - 1))).await;
                }
                Err((_, f)) => {
                    log.push(CallRecord {
                        action: action.into(),
                        request_id: f.request_id.clone(),
                        code: Some(f.code.clone()),
                        attempts: attempt,
                    });
                    return Err(f);
                }
            }
        }
    }
}

fn unreachable_text(endpoint: &str, e: &reqwest::Error) -> String {
    let why = if e.is_timeout() {
        "it did not answer in time"
    } else if e.is_connect() {
        "the connection failed"
    } else {
        "the request failed"
    };
    format!("Could not reach {}: {why}.", host_of(endpoint))
}

fn request_id(v: &Value) -> Option<String> {
    v.get("RequestId")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Reads an answer: `Ok` for a 2xx JSON object; `Err((retry?, fault))` otherwise.
fn answer(
    action: &str,
    status: reqwest::StatusCode,
    body: &[u8],
) -> Result<Value, (bool, CloudFault)> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok().filter(Value::is_object);
    let Some(v) = parsed else {
        let retry = status.is_server_error();
        let f = if status.is_success() {
            fault(
                action,
                "BadResponse",
                "The cloud answered with something that is not its API's JSON.".into(),
                None,
            )
        } else {
            fault(
                action,
                &format!("Http{}", status.as_u16()),
                format!(
                    "The cloud answered HTTP {} without an error body.",
                    status.as_u16()
                ),
                None,
            )
        };
        return Err((retry, f));
    };
    let code = v.get("Code").and_then(Value::as_str);
    if status.is_success() && code.is_none() {
        return Ok(v);
    }
    let code = code.unwrap_or("Unknown").to_string();
    let message = v
        .get("Message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(500)
        .collect();
    let retry =
        status.is_server_error() || code.starts_with("Throttling") || code == "ServiceUnavailable";
    Err((retry, fault(action, &code, message, request_id(&v))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_call_carries_the_headers_it_signs() {
        let s = Signer {
            access_key_id: "STS.k".into(),
            access_key_secret: Zeroizing::new("secret".into()),
            security_token: "tok".into(),
        };
        let p = prepare(
            "http://127.0.0.1:9/",
            "2015-05-01",
            "GetRole",
            &[("RoleName".into(), "GatehouseSSO-a b".into())],
            Some(&s),
            "2026-12-07T10:00:00Z",
            "n1",
        );
        assert_eq!(p.url, "http://127.0.0.1:9/?RoleName=GatehouseSSO-a%20b");
        let auth = &p
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap()
            .1;
        assert!(
            auth.starts_with("ACS3-HMAC-SHA256 Credential=STS.k,SignedHeaders=accept;host;"),
            "{auth}"
        );
        assert!(auth.contains("x-acs-security-token"));
        // What the verifier (sts::signature) recomputes from the same headers matches.
        let parsed = crate::sts::signature::parse_v3_authorization(auth).unwrap();
        let creq = v3_canonical_request(
            "POST",
            "/",
            &[("RoleName".into(), "GatehouseSSO-a b".into())],
            &parsed.signed_headers,
            |h| {
                p.headers
                    .iter()
                    .find(|(k, _)| k == h)
                    .map(|(_, v)| v.as_str())
            },
            &payload_hash(b""),
        );
        assert_eq!(
            parsed.signature,
            v3_signature("secret", &v3_string_to_sign(&creq))
        );
    }

    #[test]
    fn anonymous_calls_have_no_authorization() {
        let p = prepare(
            "https://sts.aliyuncs.com",
            "2015-04-01",
            "AssumeRoleWithSAML",
            &[],
            None,
            "d",
            "n",
        );
        assert!(p.headers.iter().all(|(k, _)| k != "authorization"));
        assert_eq!(p.url, "https://sts.aliyuncs.com/");
    }

    #[test]
    fn answers_are_read_as_the_cloud_means_them() {
        let ok = answer(
            "GetRole",
            reqwest::StatusCode::OK,
            br#"{"RequestId":"r1","Role":{}}"#,
        )
        .unwrap();
        assert_eq!(request_id(&ok).as_deref(), Some("r1"));
        let (retry, f) = answer(
            "CreateRole",
            reqwest::StatusCode::BAD_REQUEST,
            br#"{"RequestId":"r2","Code":"Throttling.User","Message":"slow down"}"#,
        )
        .unwrap_err();
        assert!(retry);
        assert_eq!(
            (f.code.as_str(), f.request_id.as_deref()),
            ("Throttling.User", Some("r2"))
        );
        let (retry, f) = answer(
            "GetRole",
            reqwest::StatusCode::NOT_FOUND,
            br#"{"Code":"EntityNotExist.Role","Message":"no"}"#,
        )
        .unwrap_err();
        assert!(!retry);
        assert_eq!(f.code, "EntityNotExist.Role");
        let (retry, f) = answer("GetRole", reqwest::StatusCode::OK, b"<html>").unwrap_err();
        assert!(!retry);
        assert_eq!(f.code, "BadResponse");
        let (retry, _) =
            answer("GetRole", reqwest::StatusCode::SERVICE_UNAVAILABLE, b"busy").unwrap_err();
        assert!(retry);
    }
}
