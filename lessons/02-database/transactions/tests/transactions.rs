//! Tests for database/transactions: transfers on a real SQLite database, in
//! memory, except for the concurrent test, which needs several connections
//! to one file. The tests read balances with their own query, and make a
//! transfer fail halfway with a trigger of their own.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use database_transactions::{TransferError, create_schema, open_account, transfer};
use rusqlite::Connection;

/// A bank in memory: alice holds 100 cents, bob 50. Returns the connection
/// and the two account ids.
fn bank() -> (Connection, i64, i64) {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
    let alice = open_account(&db, "alice", 100).expect("the test could not open alice's account");
    let bob = open_account(&db, "bob", 50).expect("the test could not open bob's account");
    (db, alice, bob)
}

/// The balance of `account`, read with the test's own query.
fn balance_of(db: &Connection, account: i64) -> i64 {
    db.query_row(
        "SELECT balance_cents FROM accounts WHERE id = ?1",
        [account],
        |row| row.get(0),
    )
    .unwrap_or_else(|error| panic!("the test could not read account {account}: {error}"))
}

/// Fails unless the balances of alice and bob are `expected`, saying what
/// happened `after`.
#[track_caller]
fn assert_balances(db: &Connection, (alice, bob): (i64, i64), expected: (i64, i64), after: &str) {
    let actual = (balance_of(db, alice), balance_of(db, bob));
    assert!(
        actual == expected,
        "\nthe balances (alice, bob) are {actual:?} cents, expected {expected:?}\n  after: {after}\n"
    );
}

#[test]
fn a_transfer_moves_the_amount_from_one_account_to_the_other() {
    let (mut db, alice, bob) = bank();

    let result = transfer(&mut db, alice, bob, 30);

    assert!(
        result.is_ok(),
        "\na transfer alice can afford returned {result:?}, expected Ok(())\n  call: \
         transfer(alice, bob, 30 cents), alice holding 100\n"
    );
    let after = "alice (100 cents) sent 30 cents to bob (50 cents)";
    assert_balances(&db, (alice, bob), (70, 80), after);
}

#[test]
fn a_transfer_of_the_whole_balance_leaves_zero() {
    let (mut db, alice, bob) = bank();

    let result = transfer(&mut db, alice, bob, 100);

    assert!(
        result.is_ok(),
        "\na transfer of alice's whole balance returned {result:?}, expected Ok(())\n  call: \
         transfer(alice, bob, 100 cents), alice holding exactly 100\nA balance may reach 0.\n"
    );
    let after = "alice (100 cents) sent all her 100 cents to bob (50 cents)";
    assert_balances(&db, (alice, bob), (0, 150), after);
}

// ANCHOR: overdraft
#[test]
fn an_overdraft_is_refused_and_leaves_both_balances_untouched() {
    let (mut db, alice, bob) = bank();

    let result = transfer(&mut db, alice, bob, 101);

    assert!(
        matches!(result, Err(TransferError::InsufficientFunds)),
        "\nan overdraft returned {result:?}, expected Err(TransferError::InsufficientFunds)\n  \
         call: transfer(alice, bob, 101 cents), alice holding only 100\n"
    );
    let after = "a refused transfer of 101 cents from alice (100) to bob (50)";
    assert_balances(&db, (alice, bob), (100, 50), after);
}
// ANCHOR_END: overdraft

#[test]
fn a_zero_or_negative_amount_is_refused_and_changes_nothing() {
    let (mut db, alice, bob) = bank();

    for cents in [0, -25] {
        let result = transfer(&mut db, alice, bob, cents);

        assert!(
            matches!(result, Err(TransferError::InvalidAmount(c)) if c == cents),
            "\na transfer of {cents} cents returned {result:?}, expected \
             Err(TransferError::InvalidAmount({cents}))\n  call: transfer(alice, bob, {cents} \
             cents)\nA negative transfer from alice to bob would take money from bob.\n"
        );
        let after = format!("a refused transfer of {cents} cents from alice to bob");
        assert_balances(&db, (alice, bob), (100, 50), &after);
    }
}

#[test]
fn a_transfer_to_a_missing_account_is_refused_and_changes_nothing() {
    let (mut db, alice, bob) = bank();
    let missing = 999;

    let result = transfer(&mut db, alice, missing, 30);

    assert!(
        matches!(result, Err(TransferError::NoSuchAccount(999))),
        "\na transfer to a missing account returned {result:?}, expected \
         Err(TransferError::NoSuchAccount(999))\n  call: transfer(alice, account 999, 30 \
         cents)\nThere is no account 999. An UPDATE whose WHERE matches no row is not an \
         error in SQL: it changes 0 rows.\n"
    );
    if let Err(error) = &result {
        let text = error.to_string();
        assert!(
            text.contains("999"),
            "\nthe error's text does not name the missing account 999: {text:?}\n  call: \
             transfer(alice, account 999, 30 cents), which returned {result:?}\nThe `Display` \
             of TransferError is given, and writes `account 999 does not exist`: was it \
             changed?\n"
        );
    }
    let after = "a refused transfer of 30 cents from alice to the missing account 999";
    assert_balances(&db, (alice, bob), (100, 50), after);
}

#[test]
fn a_transfer_from_a_missing_account_is_refused_and_changes_nothing() {
    let (mut db, alice, bob) = bank();
    let missing = 999;

    let result = transfer(&mut db, missing, bob, 30);

    assert!(
        matches!(result, Err(TransferError::NoSuchAccount(999))),
        "\na transfer from a missing account returned {result:?}, expected \
         Err(TransferError::NoSuchAccount(999))\n  call: transfer(account 999, bob, 30 \
         cents)\nThere is no account 999.\n"
    );
    let after = "a refused transfer of 30 cents from the missing account 999 to bob";
    assert_balances(&db, (alice, bob), (100, 50), after);
}

#[test]
fn a_transfer_to_the_same_account_creates_and_loses_nothing() {
    let (mut db, alice, bob) = bank();

    // Whether such a transfer is allowed is your choice; money appearing or
    // vanishing is not.
    let affordable = transfer(&mut db, alice, alice, 30);
    let after = format!(
        "a transfer of 30 cents from alice (100) to alice herself, which returned {affordable:?}"
    );
    assert_balances(&db, (alice, bob), (100, 50), &after);

    let overdraft = transfer(&mut db, alice, alice, 101);
    assert!(
        overdraft.is_err(),
        "\na transfer of more than alice holds returned Ok(()), expected an error\n  call: \
         transfer(alice, alice, 101 cents), alice holding only 100\nSending the money to \
         herself does not make it affordable: the balance is checked before anything is \
         added to it.\n"
    );
    let after = format!(
        "a transfer of 101 cents from alice (100) to alice herself, which returned {overdraft:?}"
    );
    assert_balances(&db, (alice, bob), (100, 50), &after);
}

#[test]
fn balances_too_large_for_an_i32_move_exactly() {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
    // 50 and 30 million: more cents than an i32 holds (2147483647).
    let alice =
        open_account(&db, "alice", 5_000_000_000).expect("the test could not open alice's account");
    let bob =
        open_account(&db, "bob", 3_000_000_000).expect("the test could not open bob's account");
    let mut db = db;

    let result = transfer(&mut db, alice, bob, 4_000_000_000);

    assert!(
        result.is_ok(),
        "\na transfer alice can afford returned {result:?}, expected Ok(())\n  call: \
         transfer(alice, bob, 4000000000 cents), alice holding 5000000000\nBalances are \
         i64 cents: an i32 holds at most 2147483647.\n"
    );
    let after = "alice (5000000000 cents) sent 4000000000 cents to bob (3000000000 cents)";
    assert_balances(&db, (alice, bob), (1_000_000_000, 7_000_000_000), after);
}

// ANCHOR: sabotage
/// Makes the second change to `accounts` fail, whichever balance it touches
/// and whatever the order of the steps: a trigger counts the rows updated,
/// and another refuses any update once one has happened, as a full disk or
/// a crash could in the middle of a transfer. The counter lives in the
/// database, so a rollback undoes it too.
fn fail_every_second_update(db: &Connection) {
    db.execute_batch(
        "CREATE TABLE updates_seen (count INTEGER NOT NULL);
         INSERT INTO updates_seen (count) VALUES (0);
         CREATE TRIGGER count_updates AFTER UPDATE ON accounts
         BEGIN
             UPDATE updates_seen SET count = count + 1;
         END;
         CREATE TRIGGER fail_second_update BEFORE UPDATE ON accounts
         WHEN (SELECT count FROM updates_seen) >= 1
         BEGIN
             SELECT RAISE(ABORT, 'injected failure: the second update of a transfer');
         END;",
    )
    .expect("the test could not install its failure triggers");
}
// ANCHOR_END: sabotage

/// Removes what `fail_every_second_update` installed.
fn stop_failing(db: &Connection) {
    db.execute_batch(
        "DROP TRIGGER fail_second_update;
         DROP TRIGGER count_updates;
         DROP TABLE updates_seen;",
    )
    .expect("the test could not remove its failure triggers");
}

// ANCHOR: midway
#[test]
fn a_failure_midway_undoes_the_step_already_done() {
    let (mut db, alice, bob) = bank();
    fail_every_second_update(&db);

    let result = transfer(&mut db, alice, bob, 30);

    assert!(
        result.is_err(),
        "\na transfer whose second UPDATE failed returned {result:?}, expected an error\n  \
         call: transfer(alice, bob, 30 cents)\nThe test made the second UPDATE of the \
         transfer fail: a trigger raises `injected failure`.\n"
    );
    let after = format!(
        "a transfer of 30 cents from alice (100) to bob (50) whose second UPDATE failed \
         and returned {result:?}\nThe first UPDATE must be undone with it: run both in one \
         transaction, and do not commit it when a step fails."
    );
    assert_balances(&db, (alice, bob), (100, 50), &after);
}
// ANCHOR_END: midway

#[test]
fn after_a_failure_midway_the_connection_works_for_the_next_transfer() {
    let (mut db, alice, bob) = bank();
    fail_every_second_update(&db);
    let failed = transfer(&mut db, alice, bob, 30);
    stop_failing(&db);

    let result = transfer(&mut db, alice, bob, 20);

    assert!(
        result.is_ok(),
        "\nthe transfer after one that failed midway returned {result:?}, expected Ok(())\n  \
         call:   transfer(alice, bob, 20 cents), on the same connection\n  before: a \
         transfer that failed midway returned {failed:?}\nA transaction left open by the \
         failed transfer, begun but neither committed nor rolled back, makes the next BEGIN \
         fail.\n"
    );
    assert!(
        db.is_autocommit(),
        "\nthe connection is still inside a transaction after a transfer returned Ok: nothing \
         has been committed\n  call: transfer(alice, bob, 20 cents)\nEvery transfer must end \
         its transaction, committing on success and rolling back on failure.\n"
    );
    let after = "a failed transfer of 30 cents, then a transfer of 20 cents from alice to bob";
    assert_balances(&db, (alice, bob), (80, 70), after);
}

/// Opens a connection of its own to the file, as a second process would,
/// willing to wait up to 10 seconds for a lock another connection holds.
fn connect(path: &std::path::Path) -> Connection {
    let db = Connection::open(path).expect("the test could not open the database file");
    db.busy_timeout(Duration::from_secs(10))
        .expect("the test could not set a busy timeout");
    db
}

/// Waits for `thread` to end; if it panicked (on a `todo!()`, say), fails
/// with its panic message.
fn join<T>(thread: thread::JoinHandle<T>) -> T {
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// A bank in a temporary file: alice holds 100 cents, bob 50. Returns the
/// folder (the file is deleted with it), the file's path, and the two ids.
fn bank_on_disk() -> (testkit::tempfile::TempDir, std::path::PathBuf, i64, i64) {
    let dir =
        testkit::tempfile::tempdir().expect("the test could not create a temporary directory");
    let path = dir.path().join("bank.db");
    let db = connect(&path);
    create_schema(&db).expect("create_schema failed on an empty database");
    let alice = open_account(&db, "alice", 100).expect("the test could not open alice's account");
    let bob = open_account(&db, "bob", 50).expect("the test could not open bob's account");
    (dir, path, alice, bob)
}

/// What the thread running a transfer tells the test.
enum Progress {
    /// The transfer is waiting for the write lock that another connection holds.
    WaitingForTheLock,
    /// The transfer returned this.
    Returned(Result<(), TransferError>),
}

/// A busy handler: SQLite calls it when the connection must wait for a lock.
/// The first time, it reports `WaitingForTheLock` and waits until the test
/// says `resume`; after that, it lets SQLite retry.
fn report_waiting(
    progress: Sender<Progress>,
    resume: Receiver<()>,
) -> impl FnMut(i32) -> bool + Send + 'static {
    let mut reported = false;
    move |attempts| {
        if !reported {
            reported = true;
            let _ = progress.send(Progress::WaitingForTheLock);
            return resume.recv().is_ok();
        }
        thread::yield_now();
        attempts < 10_000
    }
}

// ANCHOR: waiting
#[test]
fn a_transfer_that_waited_for_another_writer_checks_the_balance_that_writer_left() {
    let (_dir, path, alice, bob) = bank_on_disk();
    // Another connection takes the write lock before the transfer starts.
    let other = connect(&path);
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("the test's connection could not take the write lock");
    let (progress_sender, progress) = channel();
    let (resume, resumed) = channel();
    let mut db = connect(&path);
    db.busy_handler(Some(report_waiting(progress_sender.clone(), resumed)))
        .expect("the test could not set a busy handler");

    let transferring = thread::spawn(move || {
        let result = transfer(&mut db, alice, bob, 60);
        let _ = progress_sender.send(Progress::Returned(result));
    });
    let first = progress.recv();
    if first.is_err() {
        join(transferring);
        panic!("the transfer's thread stopped without returning");
    }
    if let Ok(Progress::Returned(result)) = first {
        panic!(
            "\nthe transfer did not wait for another connection's write lock: it returned \
             {result:?} at once\n  call: transfer(alice, bob, 60 cents), another connection \
             holding the write lock (busy timeout 10 s)\nA deferred transaction (the default) \
             that has already read cannot wait for the write lock: SQLite answers `database \
             is locked` at once. Begin the transaction with IMMEDIATE.\n"
        );
    }
    // While the transfer waits, the other connection moves 50 of alice's
    // 100 cents to bob and commits: now she cannot afford 60.
    other
        .execute(
            "UPDATE accounts SET balance_cents = balance_cents - 50 WHERE id = ?1",
            [alice],
        )
        .and_then(|_| {
            other.execute(
                "UPDATE accounts SET balance_cents = balance_cents + 50 WHERE id = ?1",
                [bob],
            )
        })
        .and_then(|_| other.execute_batch("COMMIT"))
        .expect("the test's connection could not move 50 cents from alice to bob");
    let _ = resume.send(());
    let outcome = progress.recv();
    join(transferring);
    let Ok(Progress::Returned(result)) = outcome else {
        panic!("the transfer's thread stopped without returning");
    };

    assert!(
        matches!(result, Err(TransferError::InsufficientFunds)),
        "\na transfer checked a stale balance: it returned {result:?}, expected \
         Err(TransferError::InsufficientFunds)\n  call: transfer(alice, bob, 60 cents), \
         started when alice held 100 cents\nIt waited for another connection's write lock, \
         and meanwhile that connection moved 50 of her cents to bob: with only 50 cents left \
         she cannot send 60. A balance checked before the transaction holds the write lock \
         may be stale by the time the money is taken.\n"
    );
    let after = "another connection's transfer of 50 cents from alice to bob, during which \
                 a transfer of 60 cents from alice to bob waited and was refused";
    assert_balances(&connect(&path), (alice, bob), (50, 100), after);
}
// ANCHOR_END: waiting

/// Accounts in the concurrent test, each opened with `START_CENTS`.
const ACCOUNTS: usize = 4;
const START_CENTS: i64 = 100;
/// Threads, each with its own connection, and transfers per thread.
const THREADS: usize = 8;
const TRANSFERS_PER_THREAD: usize = 40;

/// One transfer a thread attempted, and what came of it.
struct Attempt {
    from: usize,
    to: usize,
    cents: i64,
    result: Result<(), TransferError>,
}

/// The transfers thread `thread` makes. At step `i` every thread takes money
/// from the same account, `i % ACCOUNTS`, for a different account, with
/// amounts of 20 to 60 cents: each one alone is usually affordable, all of
/// them together are not, so many must be refused.
fn plan(thread: usize) -> Vec<(usize, usize, i64)> {
    (0..TRANSFERS_PER_THREAD)
        .map(|i| {
            let from = i % ACCOUNTS;
            let to = (from + 1 + thread % (ACCOUNTS - 1)) % ACCOUNTS;
            let cents = 20 + ((thread * 7 + i * 13) % 41) as i64;
            (from, to, cents)
        })
        .collect()
}

/// Runs every thread's plan at once, each on its own connection, and
/// returns every attempt.
fn run_concurrently(path: &std::path::Path, accounts: &[i64]) -> Vec<Attempt> {
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let mut db = connect(path);
            let start = Arc::clone(&start);
            let accounts = accounts.to_vec();
            thread::spawn(move || {
                start.wait();
                plan(thread)
                    .into_iter()
                    .map(|(from, to, cents)| Attempt {
                        from,
                        to,
                        cents,
                        result: transfer(&mut db, accounts[from], accounts[to], cents),
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    threads.into_iter().flat_map(join).collect()
}

// ANCHOR: concurrent
#[test]
fn concurrent_transfers_conserve_every_cent_and_never_overdraw() {
    let dir =
        testkit::tempfile::tempdir().expect("the test could not create a temporary directory");
    let path = dir.path().join("bank.db");
    let setup = connect(&path);
    create_schema(&setup).expect("create_schema failed on an empty database");
    let accounts: Vec<i64> = (0..ACCOUNTS)
        .map(|n| open_account(&setup, &format!("owner {n}"), START_CENTS))
        .collect::<Result<_, _>>()
        .expect("the test could not open the accounts");

    let attempts = run_concurrently(&path, &accounts);

    let failures: Vec<_> = attempts
        .iter()
        .filter_map(|attempt| match &attempt.result {
            Err(TransferError::Database(cause)) => Some(cause.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        failures.is_empty(),
        "\ntransfers failed with a database error: {} of {}, run by {THREADS} threads at \
         once\n  first error: {}\nEvery transfer must succeed or be refused \
         (InsufficientFunds). A transaction that reads a balance and then writes must \
         hold the write lock from its start (BEGIN IMMEDIATE): a deferred transaction \
         that has read cannot wait for the lock, and SQLite answers `database is locked` \
         at once.\n",
        failures.len(),
        attempts.len(),
        failures[0],
    );
    let actual: Vec<i64> = accounts.iter().map(|&id| balance_of(&setup, id)).collect();
    assert!(
        actual.iter().all(|&cents| cents >= 0),
        "\nan account is overdrawn: the balances are {actual:?} cents\n  after: {} transfers \
         by {THREADS} threads at once\nCheck the balance inside the transaction that takes \
         the money, after it holds the write lock.\n",
        attempts.len(),
    );
    let mut expected = [START_CENTS; ACCOUNTS];
    for attempt in attempts.iter().filter(|attempt| attempt.result.is_ok()) {
        expected[attempt.from] -= attempt.cents;
        expected[attempt.to] += attempt.cents;
    }
    let succeeded = attempts.iter().filter(|a| a.result.is_ok()).count();
    assert!(
        actual == expected,
        "\nthe balances are {actual:?} cents, expected {expected:?}\n  after: {} transfers by \
         {THREADS} threads at once, {succeeded} succeeded, the rest refused\n  total: {} \
         cents, of {} at the start\nThe balances should be the starting {START_CENTS} cents \
         each plus and minus exactly the successful transfers. A transfer that checks the \
         balance outside its transaction, or writes a balance it computed from an earlier \
         read, loses updates that other connections made in between.\n",
        attempts.len(),
        actual.iter().sum::<i64>(),
        START_CENTS * ACCOUNTS as i64,
    );
    assert!(
        succeeded > 0,
        "\nnone of the {} concurrent transfers succeeded; most of them were affordable\n",
        attempts.len()
    );
}
// ANCHOR_END: concurrent
