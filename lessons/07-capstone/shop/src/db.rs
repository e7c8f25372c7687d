//! The database: one SQLite file (lessons database/schema,
//! database/async-access).

// TODO: SHOP_DATABASE_PATH is opened, created with every table if the file
// does not exist yet, and left as it is when it does: everything the
// contract says is stored survives a restart.
// TODO: queries never block the async runtime's threads.
// TODO: many requests read at once; writers wait their turn for SQLite's
// one write lock (a busy timeout of several seconds) instead of failing
// with "database is locked".
