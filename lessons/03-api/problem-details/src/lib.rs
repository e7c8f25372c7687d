//! PLACEHOLDER: api/problem-details is being written.
