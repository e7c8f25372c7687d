//! Tests for server/health (being written).
