//! Every transcript of real output in the book's lesson pages (a response's
//! status line, headers and body, an error's text, a query plan) is made
//! here by running the code that produces it, and compared with the page.
//! A page whose transcript differs fails its test, which names the page,
//! the line, and the real output.
//!
//! The output comes from the book's listings and from the reference
//! solutions: a learner whose exercise passes its tests sees what the
//! solution shows. The "Try it" boxes are run as they stand: each `curl`
//! command on a page is sent, the way curl sends it, to the app the page's
//! `cargo run` command serves (the exercise's `examples/serve.rs`, built
//! on the solution), and what it prints is compared with the page.

// The solutions, under the names of the exercises whose `examples/serve.rs`
// the "Try it" test compiles against them.
extern crate api_conditional_solution as api_conditional;
extern crate api_filtering_solution as api_filtering;
extern crate api_idempotency_solution as api_idempotency;
extern crate api_openapi_solution as api_openapi;
extern crate api_pagination_solution as api_pagination;
extern crate api_problem_details_solution as api_problem_details;
extern crate api_resources_solution as api_resources;
extern crate api_snapshots_solution as api_snapshots;
extern crate api_upstream_solution as api_upstream;
extern crate api_validation_solution as api_validation;
extern crate auth_authorization_solution as auth_authorization;
extern crate auth_extractor_solution as auth_extractor;
extern crate auth_oauth_login_solution as auth_oauth_login;
extern crate auth_password_change_solution as auth_password_change;
extern crate auth_password_reset_solution as auth_password_reset;
extern crate auth_register_login_solution as auth_register_login;
extern crate auth_sessions_solution as auth_sessions;
extern crate auth_tokens_solution as auth_tokens;
extern crate database_async_access_solution as database_async_access;
extern crate graphql_dataloader_solution as graphql_dataloader;
extern crate graphql_limits_solution as graphql_limits;
extern crate graphql_mutations_solution as graphql_mutations;
extern crate graphql_schema_solution as graphql_schema;
extern crate production_caching_solution as production_caching;
extern crate production_deploy_solution as production_deploy;
extern crate production_jobs_solution as production_jobs;
extern crate production_observability_solution as production_observability;
extern crate production_scaling_solution as production_scaling;
extern crate production_sse_solution as production_sse;
extern crate production_websocket_solution as production_websocket;
extern crate security_access_control_solution as security_access_control;
extern crate security_csrf_solution as security_csrf;
extern crate security_encryption_solution as security_encryption;
extern crate security_headers_cors_solution as security_headers_cors;
extern crate security_limits_solution as security_limits;
extern crate security_mass_assignment_solution as security_mass_assignment;
extern crate security_path_traversal_solution as security_path_traversal;
extern crate security_rate_limiting_solution as security_rate_limiting;
extern crate security_secrets_solution as security_secrets;
extern crate security_sql_injection_solution as security_sql_injection;
extern crate security_ssrf_solution as security_ssrf;
extern crate security_webhooks_solution as security_webhooks;
extern crate security_xss_solution as security_xss;
extern crate server_errors_solution as server_errors;
extern crate server_extractors_solution as server_extractors;
extern crate server_health_solution as server_health;
extern crate server_hello_solution as server_hello;
extern crate server_json_solution as server_json;
extern crate server_middleware_solution as server_middleware;
extern crate server_routing_solution as server_routing;
extern crate server_shutdown_solution as server_shutdown;
extern crate server_state_solution as server_state;

mod book;
mod compiler;
mod database;
mod http;
mod logs;
mod server;
mod try_it;
