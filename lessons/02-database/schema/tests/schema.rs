//! Tests for database/schema (being written).
