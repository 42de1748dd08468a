//! Signed webhooks. Each POST carries:
//!
//! - `X-Gatehouse-Event`: the event type; `X-Gatehouse-Delivery`: the delivery id (the same
//!   on every retry, so receivers can drop duplicates);
//! - `X-Gatehouse-Timestamp`: Unix seconds when this attempt was signed;
//! - `X-Gatehouse-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the endpoint's
//!   secret, of `<timestamp>.<body>` (the timestamp header, a dot, the raw body bytes).
//!
//! Including the timestamp lets a receiver refuse replays: verify the signature, then
//! refuse a timestamp more than a few minutes from its own clock. See docs/API.md.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Sent;
use crate::clock::Millis;
use crate::store::DeliveryRecord;

/// Longest part of an answer's body kept in the delivery log.
const SNIPPET: usize = 200;

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &[u8], timestamp: i64, body: &str) -> String {
    #[expect(clippy::expect_used, reason = "HMAC accepts a key of any length")]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A short, printable, single-line excerpt of an answer for the log.
fn snippet(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SNIPPET)
        .collect();
    one_line.trim().to_string()
}

/// What went wrong, as a class: never the URL (it may carry a token) or a body.
fn error_class(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_request() {
        "request failed"
    } else if e.is_body() || e.is_decode() {
        "reading the answer failed"
    } else {
        "HTTP error"
    }
}

pub(crate) async fn send(
    http: &reqwest::Client,
    url: &str,
    secret: &[u8],
    d: &DeliveryRecord,
    now: Millis,
) -> Sent {
    let timestamp = now.div_euclid(1000);
    let resp = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Gatehouse-Event", &d.event_type)
        .header("X-Gatehouse-Delivery", &d.id)
        .header("X-Gatehouse-Timestamp", timestamp.to_string())
        .header(
            "X-Gatehouse-Signature",
            signature(secret, timestamp, &d.payload),
        )
        .body(d.payload.clone())
        .send()
        .await;
    match resp {
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            let detail = format!("HTTP {}", status.as_u16());
            let snip = snippet(&text);
            Sent {
                ok: status.is_success(),
                permanent: false,
                status_code: Some(i64::from(status.as_u16())),
                detail: if snip.is_empty() {
                    detail
                } else {
                    format!("{detail}: {snip}")
                },
            }
        }
        Err(e) => Sent::failed(error_class(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_timestamp_and_body() {
        let a = signature(b"k", 1, "{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, signature(b"k", 2, "{}"));
        assert_ne!(a, signature(b"k", 1, "{ }"));
        assert_ne!(a, signature(b"j", 1, "{}"));
        // The same value Python's hmac module gives for key "k" and message "1.{}".
        assert_eq!(
            a,
            "sha256=3dd49b2593d0f9a349e9e71c4bde3e2b862c2be4003fe9b4ba81332029310158"
        );
    }

    #[test]
    fn snippets_are_short_single_lines() {
        assert_eq!(snippet("a\nb"), "a b");
        assert_eq!(snippet(&"x".repeat(500)).len(), SNIPPET);
    }
}
