//! PLACEHOLDER: api/filtering is being written.
