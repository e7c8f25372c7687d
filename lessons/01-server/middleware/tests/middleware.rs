//! Tests for server/middleware (being written).
