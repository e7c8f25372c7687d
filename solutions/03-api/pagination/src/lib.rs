//! PLACEHOLDER: api/pagination is being written.
