//! PLACEHOLDER: auth/tokens is being written.
