//! PLACEHOLDER: production/deploy is being written.
