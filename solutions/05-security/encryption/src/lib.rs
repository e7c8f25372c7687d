//! PLACEHOLDER: security/encryption is being written.
