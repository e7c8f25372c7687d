//! PLACEHOLDER: auth/password-reset is being written.
