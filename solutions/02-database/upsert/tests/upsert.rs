extern crate database_upsert_solution as database_upsert;
#[path = "../../../../lessons/02-database/upsert/tests/upsert.rs"]
mod upsert;
