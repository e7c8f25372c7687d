//! PLACEHOLDER: api/conditional is being written.
