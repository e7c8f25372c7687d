//! Tests for database/mapping (being written).
