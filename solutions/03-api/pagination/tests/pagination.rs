extern crate api_pagination_solution as api_pagination;
#[path = "../../../../lessons/03-api/pagination/tests/pagination.rs"]
mod pagination;
