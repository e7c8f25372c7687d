//! PLACEHOLDER: security/ssrf is being written.
