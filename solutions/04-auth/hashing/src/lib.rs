//! PLACEHOLDER: auth/hashing is being written.
