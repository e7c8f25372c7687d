extern crate security_encryption_solution as security_encryption;
#[path = "../../../../lessons/05-security/encryption/tests/encryption.rs"]
mod encryption;
