extern crate graphql_dataloader_solution as graphql_dataloader;
#[path = "../../../../lessons/08-graphql/dataloader/tests/dataloader.rs"]
mod dataloader;
