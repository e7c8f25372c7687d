//! PLACEHOLDER: security/xss is being written.
