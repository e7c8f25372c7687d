//! PLACEHOLDER: security/webhooks is being written.
