//! Listings for the book section database/indexes: a to-do list app.

use rusqlite::types::Null;
use rusqlite::{Connection, params_from_iter};

// ANCHOR: query_plan
/// How SQLite will run `sql`: the `detail` column of `EXPLAIN QUERY PLAN`,
/// one line per step, such as `SEARCH tasks USING INDEX ... (user_id=?)`.
/// The statement is only planned, never run; its parameters stay NULL, as
/// the plan does not depend on their values.
pub fn query_plan(db: &Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    // `sql` is a statement's text, not a value: prefixing it is no injection.
    let mut statement = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let nulls = vec![Null; statement.parameter_count()];
    let details = statement.query_map(params_from_iter(nulls), |row| row.get(3))?;
    details.collect()
}
// ANCHOR_END: query_plan

// ANCHOR: schema
/// The to-do app's table. Its rowid (`id`) is the only index it has.
pub const TASKS: &str = "
    CREATE TABLE tasks (
        id      INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL,
        title   TEXT    NOT NULL,
        due_on  TEXT,              -- 2025-03-14, or NULL when undated
        done    INTEGER NOT NULL DEFAULT 0
    );
";
// ANCHOR_END: schema

// ANCHOR: queries
/// A user's tasks, soonest first.
pub const TASKS_OF_USER: &str = "SELECT id, title, due_on FROM tasks
    WHERE user_id = ?1 ORDER BY due_on";

/// The open tasks that are overdue, whoever they belong to.
pub const OVERDUE: &str = "SELECT id, user_id, title FROM tasks
    WHERE done = 0 AND due_on < ?1";

/// A task by its title, ignoring letter case.
pub const TASK_TITLED: &str = "SELECT id FROM tasks WHERE title = ?1 COLLATE NOCASE";
// ANCHOR_END: queries

// ANCHOR: indexes
/// The indexes those three queries need.
pub const TASK_INDEXES: &str = "
    -- WHERE user_id = ? ORDER BY due_on: the equality column first, then
    -- the column to sort by; one user's entries are then in due_on order.
    CREATE INDEX tasks_by_user ON tasks (user_id, due_on);

    -- Only open tasks are ever asked for by date: a partial index holds
    -- just those rows, and stays small however many tasks are done.
    CREATE INDEX open_tasks_by_due_date ON tasks (due_on) WHERE done = 0;

    -- The query compares with NOCASE, so the index must sort with NOCASE
    -- too: an index in the default (binary) order cannot answer it.
    CREATE INDEX tasks_by_title ON tasks (title COLLATE NOCASE);
";
// ANCHOR_END: indexes

/// One query's plan: the lines [`query_plan`] returns.
pub type Plan = Vec<String>;

/// The plans of the three queries, before and after [`TASK_INDEXES`]: what
/// the book shows.
pub fn plans_before_and_after() -> rusqlite::Result<(Vec<Plan>, Vec<Plan>)> {
    let db = Connection::open_in_memory()?;
    db.execute_batch(TASKS)?;
    let plans = |db: &Connection| -> rusqlite::Result<Vec<Plan>> {
        [TASKS_OF_USER, OVERDUE, TASK_TITLED]
            .iter()
            .map(|sql| query_plan(db, sql))
            .collect()
    };
    let before = plans(&db)?;
    db.execute_batch(TASK_INDEXES)?;
    let after = plans(&db)?;
    Ok((before, after))
}
