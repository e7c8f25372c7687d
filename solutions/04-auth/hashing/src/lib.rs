//! # auth/hashing — reference solution

use std::fmt;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{self, PasswordHasher, PasswordVerifier};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Params, Version};

/// Memory cost of a new hash, in KiB: 19 MiB, OWASP's recommendation for
/// argon2id.
pub const M_COST_KIB: u32 = 19_456;

/// Time cost of a new hash: passes over that memory.
pub const T_COST: u32 = 2;

/// Parallelism of a new hash: lanes.
pub const P_COST: u32 = 1;

/// Why a password could not be hashed, or a stored hash could not be
/// checked.
#[derive(Debug)]
pub enum HashError {
    /// The stored text is not a hash this module checks: not a PHC string
    /// at all, or the PHC string of another algorithm or version than
    /// argon2id version 19 (`$argon2i$...`, `$2b$...`), or one whose fields
    /// do not parse.
    Unsupported,
    /// argon2 itself failed (the system's random generator, memory).
    Failed(password_hash::Error),
}

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashError::Unsupported => write!(f, "not an argon2id (version 19) PHC string"),
            HashError::Failed(error) => write!(f, "password hashing failed: {error}"),
        }
    }
}

impl std::error::Error for HashError {}

impl From<password_hash::Error> for HashError {
    fn from(error: password_hash::Error) -> Self {
        HashError::Failed(error)
    }
}

/// The hasher of new passwords: argon2id, version 19, at the policy's
/// parameters.
fn policy() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .expect("the policy's parameters are within argon2's limits");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with argon2id at the policy's parameters and a fresh
/// random 16-byte salt, as a PHC string:
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<digest>`.
///
/// Every password is hashed as the bytes it is, the empty one included:
/// nothing is trimmed, cut or normalised.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let hash = policy().hash_password(password.as_bytes())?;
    Ok(hash.to_string())
}

/// Whether `password` is the one `phc` was made from.
///
/// `Ok(true)` for the right password, `Ok(false)` for any other; an error
/// if `phc` is not an argon2id version 19 PHC string. The parameters and
/// the salt are read from `phc`, so a hash made under an older policy
/// still verifies, and the digests are compared in constant time.
pub fn verify_password(password: &str, phc: &str) -> Result<bool, HashError> {
    let hash = PasswordHash::new(phc).map_err(|_| HashError::Unsupported)?;
    if hash.algorithm != ARGON2ID_IDENT || hash.version != Some(Version::V0x13.into()) {
        return Err(HashError::Unsupported);
    }
    match Argon2::default().verify_password(password.as_bytes(), &hash) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::PasswordInvalid) => Ok(false),
        Err(_) => Err(HashError::Unsupported),
    }
}

/// Whether `phc` should be replaced by a new hash of the same password (at
/// the next successful login): true unless it is an argon2id version 19
/// hash whose memory, time and parallelism are each at least the policy's.
/// A stronger hash is kept; anything that does not parse needs a new one.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return true;
    };
    hash.algorithm != ARGON2ID_IDENT
        || hash.version != Some(Version::V0x13.into())
        || params.m_cost() < M_COST_KIB
        || params.t_cost() < T_COST
        || params.p_cost() < P_COST
}
