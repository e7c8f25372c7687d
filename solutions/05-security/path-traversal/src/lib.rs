//! PLACEHOLDER: security/path-traversal is being written.
