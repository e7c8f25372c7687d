extern crate database_n_plus_one_solution as database_n_plus_one;
#[path = "../../../../lessons/02-database/n-plus-one/tests/n_plus_one.rs"]
mod n_plus_one;
