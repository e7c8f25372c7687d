//! PLACEHOLDER: security/limits is being written.
