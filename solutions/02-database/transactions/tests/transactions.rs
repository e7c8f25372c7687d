extern crate database_transactions_solution as database_transactions;
#[path = "../../../../lessons/02-database/transactions/tests/transactions.rs"]
mod transactions;
