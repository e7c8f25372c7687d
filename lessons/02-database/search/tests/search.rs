//! Tests for database/search (being written).
