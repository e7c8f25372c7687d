//! PLACEHOLDER: production/caching is being written.
