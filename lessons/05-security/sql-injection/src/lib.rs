//! PLACEHOLDER: security/sql-injection is being written.
