//! Tests for database/migrations (being written).
