//! PLACEHOLDER: api/openapi is being written.
