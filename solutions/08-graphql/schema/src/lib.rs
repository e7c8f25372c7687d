//! PLACEHOLDER: graphql/schema is being written.
