//! Tests for server/shutdown (being written).
