//! PLACEHOLDER: security/mass-assignment is being written.
