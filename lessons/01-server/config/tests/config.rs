//! Tests for server/config (being written).
