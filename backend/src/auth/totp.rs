//! TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps) with one step of clock drift
//! either way. The caller records the matched step so a code is never accepted twice.

use qrcode::render::svg;
use qrcode::QrCode;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use super::AuthError;

pub const STEP_SECS: u64 = 30;
const ISSUER: &str = "Gatehouse";

/// A fresh 160-bit secret.
pub fn generate_secret() -> Vec<u8> {
    match Secret::generate_secret().to_bytes() {
        Ok(b) => b,
        // `generate_secret` yields raw bytes; this arm is unreachable in practice.
        Err(_) => {
            use rand::RngCore;
            let mut b = vec![0u8; 20];
            rand::rngs::OsRng.fill_bytes(&mut b);
            b
        }
    }
}

fn totp(secret: &[u8], account: &str) -> Result<TOTP, AuthError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        secret.to_vec(),
        Some(ISSUER.to_string()),
        account.to_string(),
    )
    .map_err(|e| AuthError::Internal(format!("TOTP setup failed: {e}")))
}

/// The base32 secret, the `otpauth://` URI and its QR code as SVG.
pub fn enrollment(secret: &[u8], account: &str) -> Result<(String, String, String), AuthError> {
    let t = totp(secret, account)?;
    let uri = t.get_url();
    let qr = QrCode::new(uri.as_bytes())
        .map_err(|e| AuthError::Internal(format!("QR code failed: {e}")))?
        .render::<svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    Ok((t.get_secret_base32(), uri, qr))
}

/// The time step `code` is valid for at `now_secs` (±1 step), or `None`.
pub fn matching_step(secret: &[u8], code: &str, now_secs: u64) -> Option<i64> {
    let t = totp(secret, "check").ok()?;
    let current = now_secs / STEP_SECS;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|&step| {
            let expected = t.generate(step * STEP_SECS);
            expected.as_bytes().ct_eq(code.as_bytes()).into()
        })
        .and_then(|s| i64::try_from(s).ok())
}

/// The code for `at_secs`; used by tests and the demo.
pub fn code_at(secret: &[u8], at_secs: u64) -> Option<String> {
    totp(secret, "code").ok().map(|t| t.generate(at_secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vector() {
        // RFC 6238 appendix B, SHA-1, T = 59 s → 94287082 (8 digits); 6 digits: 287082.
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59).unwrap(), "287082");
        assert_eq!(matching_step(secret, "287082", 59), Some(1));
        assert_eq!(
            matching_step(secret, "287082", 59 + 30),
            Some(1),
            "one step of drift"
        );
        assert_eq!(matching_step(secret, "287082", 59 + 90), None);
        assert_eq!(matching_step(secret, "000000", 59), None);
    }

    #[test]
    fn enrollment_has_uri_and_svg() {
        let s = generate_secret();
        let (b32, uri, svg) = enrollment(&s, "alice").unwrap();
        assert!(uri.starts_with("otpauth://totp/Gatehouse:alice?"));
        assert!(uri.contains(&b32));
        assert!(svg.contains("<svg"));
    }
}
