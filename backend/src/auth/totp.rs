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

/// The code for `at_secs` of a secret Gatehouse made (160 bits); used by tests and the demo.
pub fn code_at(secret: &[u8], at_secs: u64) -> Option<String> {
    totp(secret, "code").ok().map(|t| t.generate(at_secs))
}

/// The code for `at_secs` of a seed someone else made, such as a cloud root account's MFA
/// seed kept in the vault. The vault accepts seeds of 80 bits and more (the common
/// authenticator minimum); `totp_rs`'s checked constructor wants 128, so this one computes
/// without that check, as every authenticator app does.
pub fn code_for_seed(seed: &[u8], at_secs: u64) -> Option<String> {
    (!seed.is_empty()).then(|| {
        TOTP::new_unchecked(
            Algorithm::SHA1,
            6,
            1,
            STEP_SECS,
            seed.to_vec(),
            None,
            String::new(),
        )
        .generate(at_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_80_bit_vault_seed_has_a_code_as_authenticator_apps_compute_it() {
        use hmac::{Hmac, Mac};
        // The vault's shortest seed: 10 bytes (16 base32 characters).
        let seed = b"0123456789";
        let at = 1_790_000_000u64;
        // RFC 4226 HOTP by hand: HMAC-SHA1 of the step, dynamic truncation, 6 digits.
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(seed).unwrap();
        mac.update(&(at / STEP_SECS).to_be_bytes());
        let h = mac.finalize().into_bytes();
        let o = usize::from(h[19] & 0xf);
        let n = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]) % 1_000_000;
        assert_eq!(code_for_seed(seed, at), Some(format!("{n:06}")));
        assert_eq!(
            code_at(seed, at),
            None,
            "Gatehouse's own secrets stay at 128 bits and more"
        );
        assert_eq!(code_for_seed(b"", at), None);
    }

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
