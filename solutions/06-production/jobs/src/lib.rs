//! PLACEHOLDER: production/jobs is being written.
