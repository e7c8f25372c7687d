//! Tests for server/errors (being written).
