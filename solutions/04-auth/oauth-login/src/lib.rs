//! PLACEHOLDER: auth/oauth-login is being written.
