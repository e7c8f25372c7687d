//! Tests for server/json (being written).
