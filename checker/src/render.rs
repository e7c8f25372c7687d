//! Turning outcomes and progress into text, JSON, JUnit XML and Markdown.

pub mod gradebook_csv;
pub mod gradebook_html;
pub mod json;
pub mod junit;
pub mod report;
pub mod text;
