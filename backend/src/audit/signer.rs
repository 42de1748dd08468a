//! The Ed25519 key that signs audit checkpoints. Its seed is stored sealed under the
//! master key, so a database copy alone cannot forge a checkpoint; verification derives
//! the public key from that seed rather than trusting anything stored beside the events.

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::secrets::{MasterKey, SecretsError};

/// The `server_keys` row name of the checkpoint key.
pub const KEY_NAME: &str = "audit-checkpoint-ed25519";
const PURPOSE: &str = "server-key:audit-checkpoint-ed25519";

#[derive(Clone)]
pub struct AuditSigner {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl AuditSigner {
    /// A fresh key and its sealed form for storage.
    pub fn generate(master: &MasterKey) -> (Self, String) {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let sealed = master.seal(PURPOSE, key.as_bytes());
        (Self::from_key(key), sealed)
    }

    /// Opens a stored key.
    pub fn open(master: &MasterKey, sealed: &str) -> Result<Self, SecretsError> {
        let seed = master.open(PURPOSE, sealed)?;
        let seed: Zeroizing<[u8; 32]> =
            Zeroizing::new(seed.as_slice().try_into().map_err(|_| SecretsError::Open)?);
        Ok(Self::from_key(SigningKey::from_bytes(&seed)))
    }

    fn from_key(key: SigningKey) -> Self {
        let digest = Sha256::digest(key.verifying_key().as_bytes());
        let key_id = hex::encode(&digest[..8]);
        Self { key, key_id }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Hex signature over `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.key.sign(message).to_bytes())
    }

    /// Whether `signature_hex` is this key's signature over `message`.
    pub fn verify(&self, message: &[u8], signature_hex: &str) -> bool {
        let Ok(bytes) = hex::decode(signature_hex) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.key.verifying_key().verify(message, &sig).is_ok()
    }
}
