//! PLACEHOLDER: production/scaling is being written.
