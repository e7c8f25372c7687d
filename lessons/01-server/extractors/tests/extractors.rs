//! Tests for server/extractors (being written).
