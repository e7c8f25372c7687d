//! PLACEHOLDER: production/sse is being written.
