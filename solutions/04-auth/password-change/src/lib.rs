//! PLACEHOLDER: auth/password-change is being written.
