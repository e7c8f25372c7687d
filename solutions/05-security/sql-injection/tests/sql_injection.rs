extern crate security_sql_injection_solution as security_sql_injection;
#[path = "../../../../lessons/05-security/sql-injection/tests/sql_injection.rs"]
mod sql_injection;
