//! PLACEHOLDER: security/headers-cors is being written.
