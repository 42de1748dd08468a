//! RFC 3161 time-stamping of checkpoint hashes: the `TimeStampReq` Gatehouse sends a
//! time-stamp authority (TSA) over HTTP, and the check of the token it returns — the
//! status, the hash it stamped, the nonce, and (given the TSA's certificate) the CMS
//! signature. The ASN.1 is RustCrypto's (`x509-tsp`, `cms`, `der`); the signature is
//! checked by OpenSSL's `CMS_verify`.

use cmpv2::status::PkiStatus;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::asn1::{Int, OctetString};
use der::oid::ObjectIdentifier;
use der::{Any, Decode, Encode};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::stack::Stack;
use openssl::x509::X509;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

/// SHA-256, the only hash Gatehouse asks to be stamped.
const ID_SHA_256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// `id-signedData`.
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// `id-ct-TSTInfo`.
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// Why a time-stamp could not be had or does not hold. Messages name no URL and no secret.
#[derive(Debug, thiserror::Error)]
pub enum TsaError {
    #[error("the time-stamp authority could not be reached: {0}")]
    Unreachable(String),
    #[error("the time-stamp authority refused the request: {0}")]
    Refused(String),
    #[error("the time-stamp token is malformed: {0}")]
    Malformed(String),
    #[error("the time-stamp token stamps another hash than the checkpoint's")]
    WrongHash,
    #[error("the time-stamp token answers another request (nonce differs)")]
    WrongNonce,
    #[error("the time-stamp token's signature does not verify with the TSA certificate")]
    BadSignature,
}

fn malformed(e: impl std::fmt::Display) -> TsaError {
    TsaError::Malformed(e.to_string())
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// When the TSA stamped the hash (`genTime`), Unix milliseconds.
    pub gen_time: i64,
}

/// A positive INTEGER's minimal big-endian bytes.
fn positive_int(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut out = bytes[start..].to_vec();
    if out[0] & 0x80 != 0 {
        out.insert(0, 0);
    }
    out
}

/// The DER `TimeStampReq` for `hash` (SHA-256) with `nonce`, asking for the TSA's
/// certificate in the token.
pub fn request_der(hash: &[u8; 32], nonce: u64) -> Result<Vec<u8>, TsaError> {
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: cms::cert::x509::spki::AlgorithmIdentifier {
                oid: ID_SHA_256,
                parameters: Some(Any::null()),
            },
            hashed_message: OctetString::new(hash.to_vec()).map_err(malformed)?,
        },
        req_policy: None,
        nonce: Some(Int::new(&positive_int(nonce)).map_err(malformed)?),
        cert_req: true,
        extensions: None,
    };
    req.to_der().map_err(malformed)
}

/// The token (DER `ContentInfo`) out of a DER `TimeStampResp`, once the status says
/// granted and the token stamps `hash` with `nonce`; with `cert`, its signature is checked.
pub fn token_from_response(
    resp: &[u8],
    hash: &[u8; 32],
    nonce: u64,
    cert: Option<&X509>,
) -> Result<Vec<u8>, TsaError> {
    let resp = TimeStampResp::from_der(resp).map_err(malformed)?;
    if !matches!(
        resp.status.status,
        PkiStatus::Accepted | PkiStatus::GrantedWithMods
    ) {
        return Err(TsaError::Refused(format!(
            "status {:?}",
            resp.status.status
        )));
    }
    let token = resp
        .time_stamp_token
        .ok_or_else(|| TsaError::Refused("granted, but no token".into()))?
        .to_der()
        .map_err(malformed)?;
    let info = tst_info(&token)?;
    let ours = positive_int(nonce);
    if info.nonce.as_ref().map(Int::as_bytes) != Some(ours.as_slice()) {
        return Err(TsaError::WrongNonce);
    }
    check_token(&token, hash, cert)?;
    Ok(token)
}

/// The `TSTInfo` a token carries, unverified.
fn tst_info(token: &[u8]) -> Result<TstInfo, TsaError> {
    let ci = ContentInfo::from_der(token).map_err(malformed)?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(malformed("not CMS signed data"));
    }
    let sd: SignedData = ci.content.decode_as().map_err(malformed)?;
    if sd.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(malformed("the signed content is not a TSTInfo"));
    }
    let content = sd
        .encap_content_info
        .econtent
        .ok_or_else(|| malformed("no signed content"))?;
    TstInfo::from_der(content.value()).map_err(malformed)
}

/// Checks that `token` stamps `hash` with SHA-256 and, given the TSA's `cert`, that `cert`
/// signed it (the signer is looked for among `cert` alone; the certificate's own chain is
/// the operator's choice to trust, so it is not walked).
pub fn check_token(token: &[u8], hash: &[u8; 32], cert: Option<&X509>) -> Result<Stamp, TsaError> {
    let info = tst_info(token)?;
    if info.message_imprint.hash_algorithm.oid != ID_SHA_256
        || info.message_imprint.hashed_message.as_bytes() != hash
    {
        return Err(TsaError::WrongHash);
    }
    if let Some(cert) = cert {
        let mut cms = CmsContentInfo::from_der(token).map_err(|_| TsaError::BadSignature)?;
        let mut certs = Stack::new().map_err(|_| TsaError::BadSignature)?;
        certs
            .push(cert.to_owned())
            .map_err(|_| TsaError::BadSignature)?;
        let mut signed = Vec::new();
        cms.verify(
            Some(&certs),
            None,
            None,
            Some(&mut signed),
            CMSOptions::NOINTERN | CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY,
        )
        .map_err(|_| TsaError::BadSignature)?;
        // What was signed must be the TSTInfo read above, byte for byte.
        if TstInfo::from_der(&signed).ok().as_ref() != Some(&info) {
            return Err(TsaError::BadSignature);
        }
    }
    Ok(Stamp {
        gen_time: i64::try_from(info.gen_time.to_unix_duration().as_millis()).unwrap_or(i64::MAX),
    })
}

/// Asks the TSA at `url` to stamp `hash`; returns the checked token (DER).
pub async fn stamp(
    client: &reqwest::Client,
    url: &str,
    hash: &[u8; 32],
    cert: Option<&X509>,
) -> Result<Vec<u8>, TsaError> {
    let nonce = rand::random::<u64>() >> 1;
    let body = request_der(hash, nonce)?;
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
        .header(reqwest::header::ACCEPT, "application/timestamp-reply")
        .body(body)
        .send()
        .await
        .map_err(|e| TsaError::Unreachable(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(TsaError::Refused(format!(
            "HTTP {}",
            resp.status().as_u16()
        )));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| TsaError::Unreachable(e.without_url().to_string()))?;
    token_from_response(&bytes, hash, nonce, cert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carries_the_hash_and_a_positive_nonce() {
        let hash = [7u8; 32];
        for nonce in [0, 1, 0x80, u64::MAX >> 1] {
            let der = request_der(&hash, nonce).unwrap();
            let req = TimeStampReq::from_der(&der).unwrap();
            assert_eq!(req.message_imprint.hashed_message.as_bytes(), &hash);
            assert_eq!(req.message_imprint.hash_algorithm.oid, ID_SHA_256);
            assert!(req.cert_req);
            let n = req.nonce.unwrap();
            assert_eq!(n.as_bytes(), positive_int(nonce).as_slice());
            assert_eq!(n.as_bytes()[0] & 0x80, 0, "positive");
        }
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        assert!(matches!(
            check_token(b"not der", &[0; 32], None),
            Err(TsaError::Malformed(_))
        ));
        assert!(matches!(
            token_from_response(&[0x30, 0x00], &[0; 32], 1, None),
            Err(TsaError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn an_unreachable_tsa_is_described_without_its_url_or_credentials() {
        let client = reqwest::Client::new();
        // Port 9 (discard) on loopback: nothing listens there in tests.
        let url = "http://stamper:tsa-secret@127.0.0.1:9/stamp?key=query-secret";
        let err = stamp(&client, url, &[0; 32], None).await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, TsaError::Unreachable(_)), "{text}");
        for secret in ["tsa-secret", "query-secret", "stamper", "127.0.0.1:9"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}
