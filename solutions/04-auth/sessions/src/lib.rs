//! PLACEHOLDER: auth/sessions is being written.
