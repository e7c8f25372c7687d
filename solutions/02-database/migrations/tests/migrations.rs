extern crate database_migrations_solution as database_migrations;
#[path = "../../../../lessons/02-database/migrations/tests/migrations.rs"]
mod migrations;
