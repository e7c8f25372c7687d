//! PLACEHOLDER: graphql/mutations is being written.
