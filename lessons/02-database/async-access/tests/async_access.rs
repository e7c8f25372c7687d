//! Tests for database/async-access (being written).
