//! PLACEHOLDER: security/rate-limiting is being written.
