//! PLACEHOLDER: graphql/limits is being written.
