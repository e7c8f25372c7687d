//! The configuration, read once from `SHOP_*` environment variables
//! (lesson server/config).

// TODO: every variable of the contract's table is read: SHOP_BIND_ADDR,
// SHOP_DATABASE_PATH, SHOP_PAYMENT_URL, SHOP_PAYMENT_API_KEY,
// SHOP_PAYMENT_TIMEOUT_MS, SHOP_TOKEN_SECRET, SHOP_ADMIN_EMAIL,
// SHOP_ADMIN_PASSWORD, SHOP_RUN_JOBS, SHOP_LOG_LEVEL.
// TODO: a required variable that is missing, any variable set but empty,
// and any value that cannot be used (a token secret under 32 bytes, a
// timeout that is not a whole number of at least 1, an admin email or
// password that breaks the registration rules...) is an error that names
// the variable. Never a silent default.
// TODO: an error message never holds a secret's value; neither does any
// way of printing the configuration.
