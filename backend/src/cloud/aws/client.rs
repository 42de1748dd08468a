//! AWS's Query APIs (IAM 2010-05-08, STS 2011-06-15) over HTTP: a call is a form POST of
//! `Action=…&Version=…&<parameters>`, signed with Signature Version 4 by the official
//! `aws-sigv4` crate with short-lived STS credentials (or unsigned, for
//! `AssumeRoleWithSAML`); the answer is XML. Throttling and 5xx answers are retried with
//! backoff, each attempt signed afresh; every call's RequestId is kept for the audit trail.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use gatehouse_shared::cloud::CloudFault;
use zeroize::Zeroizing;

use crate::cloud::alibaba::client::CallRecord;

/// Retries after the first attempt, for throttling and 5xx.
const RETRIES: u32 = 3;
const USER_AGENT: &str = concat!("Gatehouse/", env!("CARGO_PKG_VERSION"));
/// IAM and the global STS endpoint sign in us-east-1.
pub const SIGNING_REGION: &str = "us-east-1";

/// STS credentials to sign with. The secret never leaves this process in any form but the
/// HMAC it keys.
pub struct Signer {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// One element of an answer, owned: its local name, its text, its children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Xml {
    pub name: String,
    pub text: String,
    pub children: Vec<Xml>,
}

impl Xml {
    /// Parses a document; `None` when it is not XML.
    pub fn parse(text: &str) -> Option<Self> {
        let doc = roxmltree::Document::parse(text).ok()?;
        Some(Self::from_node(doc.root_element()))
    }

    fn from_node(n: roxmltree::Node<'_, '_>) -> Self {
        Self {
            name: n.tag_name().name().to_string(),
            text: n
                .children()
                .filter(roxmltree::Node::is_text)
                .filter_map(|t| t.text())
                .collect::<String>()
                .trim()
                .to_string(),
            children: n
                .children()
                .filter(roxmltree::Node::is_element)
                .map(Self::from_node)
                .collect(),
        }
    }

    /// The first element named `name`, depth first (this one included).
    pub fn find(&self, name: &str) -> Option<&Xml> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// The text of the first element named `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.find(name).map(|x| x.text.as_str())
    }

    /// Every element named `name`, depth first.
    pub fn all<'a>(&'a self, name: &str, out: &mut Vec<&'a Xml>) {
        if self.name == name {
            out.push(self);
        }
        for c in &self.children {
            c.all(name, out);
        }
    }

    /// The texts of the `<member>` children of the first element named `list`.
    pub fn members(&self, list: &str) -> Vec<&Xml> {
        self.find(list)
            .map(|l| l.children.iter().filter(|c| c.name == "member").collect())
            .unwrap_or_default()
    }
}

/// One API: an endpoint, its signing name and its version.
#[derive(Debug, Clone)]
pub struct Api<'a> {
    pub http: &'a reqwest::Client,
    /// `https://iam.amazonaws.com` (a trailing `/` is ignored).
    pub endpoint: &'a str,
    /// `iam` or `sts`.
    pub service: &'static str,
    pub version: &'static str,
    /// The region signatures are scoped to: [`SIGNING_REGION`] for IAM and the global STS
    /// endpoint, the endpoint's own for a regional one.
    pub region: &'a str,
}

/// The host (with port) of an endpoint URL.
fn host_of(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// Headers, URL and body of one attempt.
pub struct Prepared {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What a form value keeps as it is: letters, digits and `-_.~` (a space becomes `+`).
const FORM: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn form_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, FORM)
        .to_string()
        .replace("%20", "+")
}

/// The form body: `Action`, `Version`, then the parameters, encoded byte for byte as
/// boto3 encodes them (Python's `urlencode`: `*` is `%2A`, a space `+`), so that a
/// verifier that re-encodes the form, as moto does, signs the same bytes.
pub fn form(action: &str, version: &str, params: &[(String, String)]) -> String {
    let mut pairs = vec![
        format!("Action={}", form_encode(action)),
        format!("Version={}", form_encode(version)),
    ];
    pairs.extend(
        params
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v))),
    );
    pairs.join("&")
}

/// Builds one attempt and, with a signer, signs it with SigV4 at `time`.
pub fn prepare(
    api: &Api<'_>,
    action: &str,
    params: &[(String, String)],
    signer: Option<&Signer>,
    time: SystemTime,
) -> Result<Prepared, String> {
    let url = format!("{}/", api.endpoint.trim_end_matches('/'));
    let body = form(action, api.version, params);
    let mut headers: Vec<(String, String)> = vec![
        (
            "content-type".into(),
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        ),
        ("host".into(), host_of(api.endpoint).to_string()),
    ];
    if let Some(s) = signer {
        let identity = aws_credential_types::Credentials::new(
            s.access_key_id.clone(),
            s.secret_access_key.as_str(),
            Some(s.session_token.clone()),
            None,
            "gatehouse",
        )
        .into();
        let params: aws_sigv4::http_request::SigningParams<'_> = v4::SigningParams::builder()
            .identity(&identity)
            .region(api.region)
            .name(api.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        let added: Vec<(String, String)> = instructions
            .headers()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        headers.extend(added);
    }
    headers.push(("user-agent".into(), USER_AGENT.into()));
    Ok(Prepared { url, headers, body })
}

fn fault(action: &str, code: &str, message: String, request_id: Option<String>) -> CloudFault {
    CloudFault {
        code: code.into(),
        message,
        request_id,
        action: Some(action.into()),
    }
}

/// Whether an AWS error code is worth another attempt.
pub fn retryable(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "InternalFailure"
            | "InternalError"
            | "RequestTimeout"
            | "RequestTimeoutException"
    )
}

impl Api<'_> {
    /// Calls `action`, retrying throttling and 5xx with backoff. Appends what happened to
    /// `log`. A refusal comes back as AWS's fault; an unreachable endpoint or an answer that
    /// is not the API's as `Unreachable` / `BadResponse`.
    pub async fn call(
        &self,
        action: &str,
        params: &[(String, String)],
        signer: Option<&Signer>,
        log: &mut Vec<CallRecord>,
    ) -> Result<Xml, CloudFault> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            // AWS checks X-Amz-Date against its own clock: the real one.
            let ms = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
            let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
            let p = prepare(self, action, params, signer, time).map_err(|e| {
                tracing::error!(action, error = %e, "signing an AWS request failed");
                fault(
                    action,
                    "SigningFailed",
                    "Gatehouse could not sign the request.".into(),
                    None,
                )
            })?;
            let mut req = self.http.post(&p.url).body(p.body);
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
                Ok(x) => {
                    log.push(CallRecord {
                        action: action.into(),
                        request_id: x.text_of("RequestId").map(str::to_string),
                        code: None,
                        attempts: attempt,
                    });
                    return Ok(x);
                }
                Err((retry, f)) if retry && attempt <= RETRIES => {
                    tracing::info!(action, code = %f.code, attempt, "AWS call will be retried");
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

/// Reads an answer: `Ok` for a 2xx `<ActionResponse>`; `Err((retry?, fault))` otherwise.
pub fn answer(
    action: &str,
    status: reqwest::StatusCode,
    body: &[u8],
) -> Result<Xml, (bool, CloudFault)> {
    let parsed = std::str::from_utf8(body).ok().and_then(Xml::parse);
    let Some(x) = parsed else {
        let retry = status.is_server_error();
        let f = if status.is_success() {
            fault(
                action,
                "BadResponse",
                "AWS answered with something that is not its API's XML.".into(),
                None,
            )
        } else {
            fault(
                action,
                &format!("Http{}", status.as_u16()),
                format!(
                    "AWS answered HTTP {} without an error body.",
                    status.as_u16()
                ),
                None,
            )
        };
        return Err((retry, f));
    };
    if let Some(err) = x.find("Error") {
        let code = err.text_of("Code").unwrap_or("Unknown").to_string();
        let message = err
            .text_of("Message")
            .unwrap_or("")
            .chars()
            .take(500)
            .collect();
        let retry = status.is_server_error() || retryable(&code);
        let rid = x.text_of("RequestId").map(str::to_string);
        return Err((retry, fault(action, &code, message, rid)));
    }
    if status.is_success() && x.name == format!("{action}Response") {
        return Ok(x);
    }
    let retry = status.is_server_error();
    Err((
        retry,
        fault(
            action,
            if status.is_success() {
                "BadResponse"
            } else {
                "Unknown"
            },
            format!(
                "AWS answered HTTP {} with an unexpected document.",
                status.as_u16()
            ),
            x.text_of("RequestId").map(str::to_string),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(http: &reqwest::Client) -> Api<'_> {
        Api {
            http,
            endpoint: "http://127.0.0.1:9/",
            service: "iam",
            version: "2010-05-08",
            region: SIGNING_REGION,
        }
    }

    #[test]
    fn a_signed_call_is_sigv4_over_the_form_with_the_session_token() {
        let http = reqwest::Client::new();
        let s = Signer {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Zeroizing::new("secret".into()),
            session_token: "tok".into(),
        };
        let time = UNIX_EPOCH + Duration::from_secs(1_796_601_600);
        let p = prepare(
            &api(&http),
            "GetRole",
            &[("RoleName".into(), "GatehouseSSO-a b".into())],
            Some(&s),
            time,
        )
        .unwrap();
        assert_eq!(p.url, "http://127.0.0.1:9/");
        assert_eq!(
            form(
                "PutRolePolicy",
                "v",
                &[("D".into(), r#"{"A":"*~ é"}"#.into())]
            ),
            "Action=PutRolePolicy&Version=v&D=%7B%22A%22%3A%22%2A~+%C3%A9%22%7D"
        );
        assert_eq!(
            p.body,
            "Action=GetRole&Version=2010-05-08&RoleName=GatehouseSSO-a+b"
        );
        let h = |n: &str| {
            p.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        let auth = h("authorization").unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261207/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"),
            "{auth}"
        );
        assert_eq!(h("x-amz-security-token").as_deref(), Some("tok"));
        assert_eq!(h("x-amz-date").as_deref(), Some("20261207T000000Z"));
        assert!(!auth.contains("secret"));
    }

    #[test]
    fn unsigned_calls_have_no_authorization() {
        let http = reqwest::Client::new();
        let p = prepare(&api(&http), "AssumeRoleWithSAML", &[], None, UNIX_EPOCH).unwrap();
        assert!(p.headers.iter().all(|(k, _)| k != "authorization"));
    }

    #[test]
    fn answers_are_read_as_aws_means_them() {
        let ok = answer(
            "GetRole",
            reqwest::StatusCode::OK,
            br#"<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role><RoleName>r</RoleName></Role></GetRoleResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetRoleResponse>"#,
        )
        .unwrap();
        assert_eq!(ok.text_of("RequestId"), Some("r1"));
        assert_eq!(ok.text_of("RoleName"), Some("r"));
        let throttled = br#"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r2</RequestId></ErrorResponse>"#;
        let (retry, f) =
            answer("CreateRole", reqwest::StatusCode::BAD_REQUEST, throttled).unwrap_err();
        assert!(retry);
        assert_eq!(
            (f.code.as_str(), f.request_id.as_deref()),
            ("Throttling", Some("r2"))
        );
        let (retry, f) = answer(
            "GetRole",
            reqwest::StatusCode::NOT_FOUND,
            br#"<ErrorResponse><Error><Code>NoSuchEntity</Code><Message>no</Message></Error><RequestId>r3</RequestId></ErrorResponse>"#,
        )
        .unwrap_err();
        assert!(!retry);
        assert_eq!(f.code, "NoSuchEntity");
        let (retry, f) = answer("GetRole", reqwest::StatusCode::OK, b"<html").unwrap_err();
        assert!(!retry);
        assert_eq!(f.code, "BadResponse");
        let (retry, _) =
            answer("GetRole", reqwest::StatusCode::SERVICE_UNAVAILABLE, b"busy").unwrap_err();
        assert!(retry);
        // Another action's answer is not this one's.
        let (_, f) = answer(
            "GetRole",
            reqwest::StatusCode::OK,
            b"<ListRolesResponse></ListRolesResponse>",
        )
        .unwrap_err();
        assert_eq!(f.code, "BadResponse");
    }

    /// Retries end to end on a canned server: two Throttling answers, then success.
    #[tokio::test]
    async fn throttling_is_retried_until_it_passes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for i in 0..3 {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let (status, body) = if i < 2 {
                    ("400 Bad Request", "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>t</RequestId></ErrorResponse>")
                } else {
                    ("200 OK", "<ListRolesResponse><ListRolesResult><Roles/></ListRolesResult><ResponseMetadata><RequestId>ok</RequestId></ResponseMetadata></ListRolesResponse>")
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                sock.write_all(resp.as_bytes()).await.unwrap();
            }
        });
        let http = reqwest::Client::new();
        let endpoint = format!("http://127.0.0.1:{port}");
        let a = Api {
            http: &http,
            endpoint: &endpoint,
            service: "iam",
            version: "2010-05-08",
            region: SIGNING_REGION,
        };
        let mut log = Vec::new();
        let x = a.call("ListRoles", &[], None, &mut log).await.unwrap();
        assert_eq!(x.text_of("RequestId"), Some("ok"));
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].attempts, 3);
    }
}
