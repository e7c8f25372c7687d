//! Tests for database/n-plus-one (being written).
