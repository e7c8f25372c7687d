//! PLACEHOLDER: graphql/dataloader is being written.
