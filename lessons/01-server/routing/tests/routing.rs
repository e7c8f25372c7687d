//! Tests for server/routing (being written).
