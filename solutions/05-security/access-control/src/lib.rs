//! PLACEHOLDER: security/access-control is being written.
