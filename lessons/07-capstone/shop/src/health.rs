//! Health checks (lesson server/health).

// TODO: GET /health/live answers 200 {"status": "alive"}, whatever the
// database does.
// TODO: GET /health/ready answers 200 {"status": "ready", "checks":
// {"database": "ok"}} when a query on the database works, and 503
// {"status": "not ready", "checks": {"database": "failing"}} otherwise.
