//! PLACEHOLDER: auth/extractor is being written.
