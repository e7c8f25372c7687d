//! PLACEHOLDER: api/validation is being written.
