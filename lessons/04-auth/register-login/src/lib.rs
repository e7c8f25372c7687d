//! PLACEHOLDER: auth/register-login is being written.
