extern crate database_async_access_solution as database_async_access;
#[path = "../../../../lessons/02-database/async-access/tests/async_access.rs"]
mod async_access;
