//! Encryption of TOTP secrets at rest (XChaCha20-Poly1305).

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{AuthError, AuthResult};

/// Format version byte leading every ciphertext.
const VERSION: u8 = 1;
/// XChaCha20 nonce length: 192 bits, so random nonces never collide in
/// practice.
const NONCE: usize = 24;

/// Encrypts and decrypts TOTP secrets with a 256-bit key
/// (`AUTHKIT_MFA_ENCRYPTION_KEY`). Each ciphertext is bound to its account
/// (the user id is authenticated data), so a secret copied onto another
/// account does not decrypt.
///
/// Stored form: `version (1) || nonce (24) || ciphertext+tag`.
#[derive(Clone)]
pub struct SecretCipher {
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCipher(<redacted>)")
    }
}

impl SecretCipher {
    /// A cipher with this key.
    ///
    /// # Errors
    /// `Internal` unless the key is exactly 32 bytes.
    pub fn new(key: &[u8]) -> AuthResult<Self> {
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| AuthError::internal_msg("the MFA encryption key must be 32 bytes"))?;
        Ok(Self {
            key: Zeroizing::new(key),
        })
    }

    /// A cipher with a random key: what was encrypted with it is lost when
    /// the process ends.
    pub fn ephemeral() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(key.as_mut());
        Self { key }
    }

    fn aead(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.key.as_ref().into())
    }

    /// Encrypts `plaintext` for `user_id`.
    ///
    /// # Errors
    /// `Internal` if encryption fails (it does not for in-memory sizes).
    pub fn encrypt(&self, user_id: Uuid, plaintext: &[u8]) -> AuthResult<Vec<u8>> {
        let mut nonce = [0u8; NONCE];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .aead()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad(user_id),
                },
            )
            .map_err(|_| AuthError::internal_msg("MFA secret encryption failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts what [`encrypt`](Self::encrypt) produced for `user_id`.
    ///
    /// # Errors
    /// `Internal` for a wrong key, another account's ciphertext, or a
    /// damaged or unknown format.
    pub fn decrypt(&self, user_id: Uuid, stored: &[u8]) -> AuthResult<Zeroizing<Vec<u8>>> {
        let undecryptable = || AuthError::internal_msg("MFA secret does not decrypt with this key");
        let (version, rest) = stored.split_first().ok_or_else(undecryptable)?;
        if *version != VERSION || rest.len() < NONCE {
            return Err(undecryptable());
        }
        let (nonce, sealed) = rest.split_at(NONCE);
        let nonce: [u8; NONCE] = nonce.try_into().map_err(|_| undecryptable())?;
        self.aead()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad(user_id),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| undecryptable())
    }
}

fn aad(user_id: Uuid) -> Vec<u8> {
    let mut aad = b"authkit.totp_secret.".to_vec();
    aad.extend_from_slice(user_id.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let cipher = SecretCipher::new(&[7u8; 32]).unwrap();
        let user = Uuid::now_v7();
        let a = cipher.encrypt(user, b"12345678901234567890").unwrap();
        let b = cipher.encrypt(user, b"12345678901234567890").unwrap();
        assert_ne!(a, b, "fresh nonce each time");
        assert_eq!(a.len(), 1 + 24 + 20 + 16);
        assert!(!a.windows(20).any(|w| w == b"12345678901234567890"));
        assert_eq!(
            cipher.decrypt(user, &a).unwrap().as_slice(),
            b"12345678901234567890"
        );
    }

    #[test]
    fn wrong_key_account_or_damage_fail() {
        let cipher = SecretCipher::new(&[7u8; 32]).unwrap();
        let user = Uuid::now_v7();
        let sealed = cipher.encrypt(user, b"secret").unwrap();
        assert!(SecretCipher::ephemeral().decrypt(user, &sealed).is_err());
        assert!(cipher.decrypt(Uuid::now_v7(), &sealed).is_err());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(cipher.decrypt(user, &flipped).is_err());
        let mut versioned = sealed.clone();
        versioned[0] = 2;
        assert!(cipher.decrypt(user, &versioned).is_err());
        for short in [&[][..], &[1u8][..], &sealed[..20]] {
            assert!(cipher.decrypt(user, short).is_err());
        }
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert!(SecretCipher::new(&[1u8; 16]).is_err());
        assert!(SecretCipher::new(&[1u8; 33]).is_err());
        assert_eq!(
            format!("{:?}", SecretCipher::ephemeral()),
            "SecretCipher(<redacted>)"
        );
    }
}
