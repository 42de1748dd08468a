//! Secrets at rest: the master key and AES-256-GCM sealing of everything secret we store
//! (TOTP seeds, OIDC client secrets and PKCE verifiers, root-credential vault entries,
//! webhook signing secrets, the audit checkpoint key).
//!
//! A sealed value is `v1.<base64url(nonce ‖ ciphertext ‖ tag)>`. Each seal binds a
//! *purpose* as associated data (for example `totp:<user-id>`), so a ciphertext copied
//! into another row or column does not open there.

use std::fs;
use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the master key file {path} could not be read or created: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("the master key must be 32 bytes written as 64 hexadecimal characters")]
    KeyFormat,
    #[error("the master key file {0} is readable by other users; run `chmod 600` on it")]
    KeyPermissions(String),
    #[error("a sealed value could not be opened (wrong master key, or the value was altered)")]
    Open,
}

/// The 256-bit key that seals every secret at rest. Never logged, never sent.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Parses a key given by the operator as 64 hex characters.
    pub fn from_hex(s: &str) -> Result<Self, SecretsError> {
        let bytes = hex::decode(s.trim()).map_err(|_| SecretsError::KeyFormat)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SecretsError::KeyFormat)?;
        Ok(Self(Zeroizing::new(arr)))
    }

    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(k.as_mut());
        Self(k)
    }

    /// Loads the key file, or creates it (mode 0600, created exclusively) on first start.
    /// Refuses a key file that group or others can read.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretsError> {
        let err = |source| SecretsError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match fs::read_to_string(path) {
            Ok(text) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = fs::metadata(path).map_err(err)?.permissions().mode();
                    if mode & 0o077 != 0 {
                        return Err(SecretsError::KeyPermissions(path.display().to_string()));
                    }
                }
                Self::from_hex(&text)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    fs::create_dir_all(dir).map_err(err)?;
                }
                let key = Self::generate();
                let mut opts = fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                match opts.open(path) {
                    Ok(mut f) => {
                        let hex = Zeroizing::new(hex::encode(key.0.as_ref()));
                        f.write_all(hex.as_bytes()).map_err(err)?;
                        f.sync_all().map_err(err)?;
                        Ok(key)
                    }
                    // Another instance sharing the data directory won the race: use its key.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(err(e)),
                }
            }
            Err(e) => Err(err(e)),
        }
    }

    /// A 256-bit key for one purpose (HKDF-SHA256 with `info`), so a subsystem such as STS
    /// gets its own keys without the master key ever leaving this type.
    pub fn derive(&self, info: &str) -> Zeroizing<[u8; 32]> {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"gatehouse"), self.0.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 8,160-byte output limit.
        let _ = hk.expand(info.as_bytes(), out.as_mut());
        out
    }

    /// Encrypts `plaintext`, binding it to `purpose`.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> String {
        let cipher = Aes256Gcm::new(self.0.as_ref().into());
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: purpose.as_bytes(),
        };
        // Encryption with a valid key and a fresh nonce cannot fail for inputs of our size.
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        format!("v1.{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Decrypts a value sealed for `purpose`; fails if the key, purpose or bytes differ.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
        let body = sealed.strip_prefix("v1.").ok_or(SecretsError::Open)?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SecretsError::Open)?;
        if raw.len() < 12 + 16 {
            return Err(SecretsError::Open);
        }
        let (nonce, ct) = raw.split_at(12);
        let cipher = Aes256Gcm::new(self.0.as_ref().into());
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: purpose.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SecretsError::Open)
    }
}

/// `n` random bytes from the operating system, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_binds_purpose() {
        let k = MasterKey::generate();
        let s = k.seal("totp:u1", b"seed");
        assert_eq!(k.open("totp:u1", &s).unwrap().as_slice(), b"seed");
        assert!(k.open("totp:u2", &s).is_err());
        assert!(MasterKey::generate().open("totp:u1", &s).is_err());
        let mut tampered = s.clone();
        tampered.pop();
        tampered.push(if s.ends_with('A') { 'B' } else { 'A' });
        assert!(k.open("totp:u1", &tampered).is_err());
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_master() {
        let k = MasterKey::generate();
        assert_eq!(*k.derive("a"), *k.derive("a"));
        assert_ne!(*k.derive("a"), *k.derive("b"));
        assert_ne!(*k.derive("a"), *MasterKey::generate().derive("a"));
    }

    #[test]
    fn key_file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let k1 = MasterKey::load_or_create(&path).unwrap();
        let k2 = MasterKey::load_or_create(&path).unwrap();
        let sealed = k1.seal("p", b"x");
        assert_eq!(k2.open("p", &sealed).unwrap().as_slice(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                MasterKey::load_or_create(&path),
                Err(SecretsError::KeyPermissions(_))
            ));
        }
    }
}
