extern crate database_money_solution as database_money;
#[path = "../../../../lessons/02-database/money/tests/money.rs"]
mod money;
