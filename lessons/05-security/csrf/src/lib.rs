//! PLACEHOLDER: security/csrf is being written.
