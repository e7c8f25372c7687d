//! PLACEHOLDER: auth/authorization is being written.
