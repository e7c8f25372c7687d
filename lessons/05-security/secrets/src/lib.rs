//! PLACEHOLDER: security/secrets is being written.
