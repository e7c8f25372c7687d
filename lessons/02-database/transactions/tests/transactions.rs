//! Tests for database/transactions (being written).
