//! PLACEHOLDER: production/observability is being written.
