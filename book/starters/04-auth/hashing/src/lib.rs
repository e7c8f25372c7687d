//! # auth/hashing — Password hashing
//!
//! Store passwords the way they should be stored: never as they are, but as
//! an argon2id hash with a fresh random salt, written as a PHC string that
//! carries its own algorithm, parameters and salt. Write the three
//! functions the shop's accounts will use: one that hashes a new password,
//! one that checks a password against a stored hash, and one that tells
//! whether a stored hash is weaker than today's policy and should be
//! replaced at the customer's next login.
//! The book's section "Password hashing" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

// ANCHOR: given
use std::fmt;

use argon2::password_hash;

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
// ANCHOR_END: given

// ANCHOR: hash_password
/// Hashes `password` with argon2id at the policy's parameters and a fresh
/// random 16-byte salt, as a PHC string:
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<digest>`.
///
/// Every password is hashed as the bytes it is, the empty one included:
/// nothing is trimmed, cut or normalised.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    // TODO: return the PHC string of an argon2id (version 19) hash of the
    // password's bytes, with memory, time and parallelism set to the three
    // constants above, and a salt of at least 16 random bytes that is new
    // for every call.
    let _ = (password, M_COST_KIB, T_COST, P_COST);
    todo!()
}
// ANCHOR_END: hash_password

// ANCHOR: verify_password
/// Whether `password` is the one `phc` was made from.
///
/// `Ok(true)` for the right password, `Ok(false)` for any other; an error
/// ([`HashError::Unsupported`]) if `phc` is not an argon2id version 19 PHC
/// string. The parameters and the salt are read from `phc`, so a hash made
/// under an older policy still verifies, and the digests are compared in
/// constant time.
pub fn verify_password(password: &str, phc: &str) -> Result<bool, HashError> {
    // TODO: refuse, as an error, any stored text that is not an argon2id
    // version 19 PHC string. Otherwise hash the password again with the
    // salt and parameters the string holds, and compare the result with
    // its digest in constant time: true if they are equal. A wrong
    // password is `Ok(false)`, not an error.
    let _ = (password, phc);
    todo!()
}
// ANCHOR_END: verify_password

// ANCHOR: needs_rehash
/// Whether `phc` should be replaced by a new hash of the same password (at
/// the next successful login): true unless it is an argon2id version 19
/// hash whose memory, time and parallelism are each at least the policy's.
/// A stronger hash is kept; anything that does not parse needs a new one.
pub fn needs_rehash(phc: &str) -> bool {
    // TODO: true when the stored hash is weaker than a hash made now would
    // be (another algorithm or version, or any of m, t, p below the
    // constants), or unreadable; false otherwise.
    let _ = phc;
    todo!()
}
// ANCHOR_END: needs_rehash
