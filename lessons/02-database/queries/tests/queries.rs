//! Tests for database/queries (being written).
