//! PLACEHOLDER: api/snapshots is being written.
