//! Tests for database/indexes (being written).
