//! PLACEHOLDER: api/idempotency is being written.
