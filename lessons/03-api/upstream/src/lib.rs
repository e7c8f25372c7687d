//! PLACEHOLDER: api/upstream is being written.
