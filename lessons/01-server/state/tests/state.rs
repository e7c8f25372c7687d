//! Tests for server/state (being written).
