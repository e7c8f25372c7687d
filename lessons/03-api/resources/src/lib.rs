//! PLACEHOLDER: api/resources is being written.
