//! Tests for security/sql-injection: a real server on 127.0.0.1 in front of
//! a real SQLite file in a temporary folder, holding the same products and
//! customers in every test (see [`CATALOGUE`] and [`CUSTOMERS`]).
//!
//! Every test is an attacker first: it sends payloads of one class (the
//! ones found in attack tools and breach reports) and expects each to be
//! searched for as the text it is, finding what that text finds (nothing,
//! usually), leaking nothing and changing nothing. Then it checks that the
//! searches a real customer makes still work. The SQL the app runs is
//! recorded with SQLite's trace hook, so a failure can show the query a
//! payload turned into, and a time-based probe is caught by the work SQLite
//! did (the steps of its virtual machine), not by a clock.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::{Connection, StatementStatus};
use security_sql_injection::{Db, app, create_schema};
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, json};

/// The shop's products in every test: id, sku, name, price_cents, stock.
/// The names hold what real names hold and what SQL gives a meaning to:
/// quotes, `%` and `_`, `;` and `--`, the words UNION and DROP, and
/// letters outside ASCII.
const CATALOGUE: [(i64, &str, &str, i64, i64); 11] = [
    (1, "MUG-RED", "Red mug", 1250, 12),
    (2, "MUG-UNION", "Union Jack mug", 1250, 0),
    (3, "TEE-COTTON", "100% cotton tee", 1999, 5),
    (4, "PUZZLE-1000", "1000 piece puzzle", 2000, 7),
    (5, "MUG-SNAKE", "snake_case mug", 1500, 3),
    (6, "MUG-KEBAB", "snake-case mug", 1500, 0),
    (7, "TORCH-CREME", "Crème brûlée torch", 3400, 1),
    (8, "MUG-OBRIEN", "O'Brien's mug", 900, 4),
    (9, "TOWEL-OBRIEN", "O'Brien's tea towel", 650, 0),
    (
        10,
        "TABLE-DROP",
        "Drop-leaf table; oak -- seats 4",
        18900,
        2,
    ),
    (11, "SIGN-STAFF", "\"Staff only\" door sign", 500, 9),
];

/// The shop's customers: id, email, name, password_hash, role. What an
/// attacker is after: none of it may ever appear in a search's answer.
const CUSTOMERS: [(i64, &str, &str, &str, &str); 2] = [
    (
        1,
        "admin@shop.test",
        "Shop Admin",
        "$argon2id$v=19$m=19456,t=2,p=1$c2hvcGFkbWluc2FsdA$K0hM8sNQ2dVv4e1T9lq3rXbYw6uJcPzAoFnRgEiSkHc",
        "admin",
    ),
    (
        2,
        "ada@example.com",
        "Ada Lovelace",
        "$argon2id$v=19$m=19456,t=2,p=1$YWRhbG92ZWxhY2VzYQ$7Qm2ZxLk9WcVb3NtRy5uHgFd1sPaE8oIjKeT4lYrXwA",
        "customer",
    ),
];

/// A row of `products` as the tests compare it: id, sku, name,
/// price_cents, stock.
type ProductRow = (i64, String, String, i64, i64);

/// A row of `customers`: id, email, name, password_hash, role.
type CustomerRow = (i64, String, String, String, String);

/// Texts that only a leak can put into a search's answer.
fn secrets() -> Vec<&'static str> {
    let mut secrets = vec!["$argon2id$", "CREATE TABLE", "sqlite_"];
    for (_, email, name, hash, _) in CUSTOMERS {
        secrets.extend([email, name, hash]);
    }
    secrets
}

/// Query parameters: names and values, as the server decodes them.
type Params<'a> = [(&'a str, &'a str)];

/// A statement the app's connection ran: its SQL, and the steps SQLite's
/// virtual machine took for it (a measure of its work that does not depend
/// on the machine's speed).
#[derive(Clone)]
struct Ran {
    sql: String,
    steps: i64,
}

/// Every statement the app's connection finished, in order.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<Ran>>>);

impl Statements {
    fn count(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// The statements finished since the count was `mark`.
    fn since(&self, mark: usize) -> Vec<Ran> {
        let all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        all.get(mark..).unwrap_or_default().to_vec()
    }
}

/// The shop's database file, with the catalogue and the customers, in a
/// folder removed when dropped.
struct Shop {
    _folder: TempDir,
    path: PathBuf,
}

/// The app under test, and what its connection runs.
struct Served {
    server: TestServer,
    statements: Statements,
    /// How many searches were answered 200 so far: the rows `searches`
    /// must hold.
    searches: usize,
}

impl Shop {
    fn new() -> Shop {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let db = Connection::open(&path).expect("the test could not create its database");
        create_schema(&db).expect("create_schema failed on an empty database");
        for (id, sku, name, price_cents, stock) in CATALOGUE {
            db.execute(
                "INSERT INTO products (id, sku, name, price_cents, stock, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, '2026-11-01T09:00:00Z')",
                (id, sku, name, price_cents, stock),
            )
            .expect("the test could not store its products");
        }
        for (id, email, name, hash, role) in CUSTOMERS {
            db.execute(
                "INSERT INTO customers (id, email, name, password_hash, role)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (id, email, name, hash, role),
            )
            .expect("the test could not store its customers");
        }
        Shop {
            _folder: folder,
            path,
        }
    }

    /// The app under test, on its own connection to the file, with every
    /// statement that connection finishes recorded.
    async fn serve(&self) -> Served {
        let mut db = Connection::open(&self.path).expect("the test could not open its database");
        let statements = Statements::default();
        let record = Arc::clone(&statements.0);
        db.trace_v2(
            TraceEventCodes::SQLITE_TRACE_PROFILE,
            Some(move |event: TraceEvent<'_>| {
                if let TraceEvent::Profile(statement, _) = event {
                    let ran = Ran {
                        sql: statement.sql().into_owned(),
                        steps: i64::from(statement.get_status(StatementStatus::VmStep)),
                    };
                    record
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(ran);
                }
            }),
        )
        .expect("the test could not trace its connection");
        Served {
            server: TestServer::spawn(app(Db::new(db))).await,
            statements,
            searches: 0,
        }
    }

    fn open(&self) -> Connection {
        Connection::open(&self.path).expect("the test could not open its database")
    }
}

/// What one search sent and got, with the statements it ran.
struct Searched {
    params: Vec<(String, String)>,
    reply: Reply,
    ran: Vec<Ran>,
}

impl Searched {
    /// The parameters as the server decodes them: `q = "' OR 1=1--"`.
    fn decoded(&self) -> String {
        let pairs: Vec<String> = self
            .params
            .iter()
            .map(|(name, value)| format!("{name} = {value:?}"))
            .collect();
        pairs.join(", ")
    }

    /// The SQL the app ran for this search, for a failure message.
    fn sql(&self) -> String {
        if self.ran.is_empty() {
            return "  SQL run:  none\n".to_string();
        }
        let mut text = String::from("  SQL run:\n");
        for ran in &self.ran {
            let sql: String = ran.sql.split_whitespace().collect::<Vec<_>>().join(" ");
            let sql = testkit::quote(&sql);
            text.push_str(&format!("            {sql} ({} steps)\n", ran.steps));
        }
        text
    }

    /// Fails with `verdict`, the decoded parameters, the request, the
    /// response, the SQL run and `diagnosis`.
    #[track_caller]
    fn fail(&self, verdict: &str, diagnosis: &str) -> ! {
        self.reply.fail_with_diagnosis(
            &format!("{verdict}\n  parameters: {}", self.decoded()),
            &format!("{}{diagnosis}", self.sql()),
        )
    }

    /// The ids of the products in a `200 OK` JSON array.
    #[track_caller]
    fn ids(&self, status_diagnosis: &str) -> Vec<i64> {
        if self.reply.status() != 200 {
            self.fail(
                &format!(
                    "expected status 200 OK, got {}",
                    testkit::status_text(self.reply.status())
                ),
                status_diagnosis,
            );
        }
        let body = self.reply.json();
        let Some(products) = body.as_array() else {
            self.reply
                .fail("expected a JSON array of products, got another kind of JSON value");
        };
        products
            .iter()
            .map(|product| match product["id"].as_i64() {
                Some(id) => id,
                None => self
                    .reply
                    .fail("expected every product of the list to have a numeric `id`"),
            })
            .collect()
    }
}

/// `GET /products/search` with these query parameters, each value
/// percent-encoded as a browser or `curl --data-urlencode` would.
async fn search(served: &mut Served, params: &Params<'_>) -> Searched {
    let query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect();
    let path = if query.is_empty() {
        "/products/search".to_string()
    } else {
        format!("/products/search?{}", query.join("&"))
    };
    let mark = served.statements.count();
    let reply = served.server.get(&path).send().await;
    if reply.status() == 200 {
        served.searches += 1;
    }
    Searched {
        params: params
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        reply,
        ran: served.statements.since(mark),
    }
}

/// `text` with every byte outside the URL's unreserved characters written
/// as `%XX`.
fn encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The ids a search for the text `q` under `max_price` finds, worked out
/// here: the names that contain `q`, ASCII letters in either case, every
/// character taken as itself.
fn literally(q: &str, max_price: Option<i64>) -> Vec<i64> {
    let q = q.to_ascii_lowercase();
    CATALOGUE
        .iter()
        .filter(|product| product.2.to_ascii_lowercase().contains(&q))
        .filter(|product| max_price.is_none_or(|max| product.3 <= max))
        .map(|product| product.0)
        .collect()
}

/// "8 (O'Brien's mug), 9 (O'Brien's tea towel)".
fn named(ids: &[i64]) -> String {
    let names: Vec<String> = ids
        .iter()
        .map(
            |id| match CATALOGUE.iter().find(|product| product.0 == *id) {
                Some(product) => format!("{id} ({})", product.2),
                None => format!("{id} (not a product of the test)"),
            },
        )
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Fails unless the search answered `200 OK` with the products `expected`,
/// in that order.
#[track_caller]
fn assert_finds(searched: &Searched, expected: &[i64], diagnosis: &str) {
    let ids = searched.ids(diagnosis);
    if ids != expected {
        searched.fail(
            &format!(
                "expected the products {expected:?}, in this order, got {ids:?}\n  expected:   {}\n  got:        {}",
                named(expected),
                named(&ids)
            ),
            diagnosis,
        );
    }
}

/// Fails unless the payload `q` (with `max_price`) was searched for as the
/// text it is: `200 OK`, exactly the products that text finds, and nothing
/// of the customers or the schema in the answer.
#[track_caller]
fn assert_searched_as_text(searched: &Searched, attack: &str, max_price: Option<i64>) {
    let q = searched
        .params
        .iter()
        .find(|(name, _)| name == "q")
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    assert_leaks_nothing(searched, attack);
    let ids = searched.ids(&broke_the_query(attack));
    let expected = literally(q, max_price);
    if ids != expected {
        searched.fail(
            &format!(
                "the search returned {} for the payload {attack:?} (a {}), whose text no name \
                 contains{}: the query is built from the input\n  expected:   {}\n  got:        {}",
                count_products(ids.len()),
                attack_class(attack),
                if expected.is_empty() {
                    String::new()
                } else {
                    format!(" but {}", named(&expected))
                },
                named(&expected),
                named(&ids)
            ),
            "The SQL above shows the payload inside the query: its quote closed the text of \
             the LIKE, and the rest was run as SQL. Pass `q` as a bound parameter (a `?` in \
             the SQL, the value given apart), so that whatever it holds is only ever text \
             to search for. Escaping or removing quotes, or refusing words such as UNION, \
             fails on one payload or another, and on real names such as O'Brien's.",
        );
    }
}

/// The diagnosis of a payload answered with another status than 200.
fn broke_the_query(attack: &str) -> String {
    format!(
        "The payload {attack:?} did not get a search's answer: a quote in `q` ended the \
         SQL's text early, and what followed was read as SQL, which here failed. That \
         error is how attackers find an injectable parameter. A search for any text must \
         work: the text has to reach SQLite as a value, apart from the SQL (a bound \
         parameter), never pasted into it."
    )
}

/// "no product", "1 product", "5 products".
fn count_products(count: usize) -> String {
    match count {
        0 => "no product".to_string(),
        1 => "1 product".to_string(),
        count => format!("{count} products"),
    }
}

/// What kind of attack a payload is, for a verdict.
fn attack_class(attack: &str) -> &'static str {
    let lower = attack.to_ascii_lowercase();
    if lower.contains("union") {
        "UNION-based extraction"
    } else if lower.contains("recursive") || lower.contains("products a") {
        "time-based probe"
    } else if lower.contains(" and ") {
        "blind boolean probe"
    } else if lower.contains(" or ") {
        "tautology"
    } else if lower.contains("--") || lower.contains("/*") {
        "comment truncation"
    } else {
        "payload"
    }
}

/// Fails if the answer holds a customer's email, name or password hash, or
/// the database's schema.
#[track_caller]
fn assert_leaks_nothing(searched: &Searched, attack: &str) {
    let text = searched.reply.text().to_ascii_lowercase();
    for secret in secrets() {
        if text.contains(&secret.to_ascii_lowercase()) {
            searched.fail(
                &format!(
                    "the answer to the payload {attack:?} contains `{secret}`, which only the \
                     customers table or the schema holds: the query is built from the input"
                ),
                "A UNION glued a second SELECT, over the customers table (or sqlite_master, \
                 the schema), onto the search, and its rows came back as if they were \
                 products. Bind `q` as a parameter: a value cannot add a SELECT.",
            );
        }
    }
}

/// Fails unless products and customers are exactly as the test stored
/// them, and `searches` holds a row for every search answered `200`, the
/// last with `term`.
#[track_caller]
fn assert_intact(shop: &Shop, served: &Served, searched: &Searched, attack: &str, term: &str) {
    let db = shop.open();
    let products: rusqlite::Result<Vec<ProductRow>> = db
        .prepare("SELECT id, sku, name, price_cents, stock FROM products ORDER BY id")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })?
                .collect()
        });
    let expected: Vec<ProductRow> = CATALOGUE
        .iter()
        .map(|p| (p.0, p.1.to_string(), p.2.to_string(), p.3, p.4))
        .collect();
    let stacked = "The payload ended the statement with `;` and added one of its own, which \
                   SQLite ran: a stacked statement. One call that runs several statements \
                   (a batch) must never see text from a client; store the term as a bound \
                   parameter of one INSERT, and search with bound parameters too.";
    match products {
        Err(error) => searched.fail(
            &format!(
                "the payload {attack:?} destroyed the products table: reading it now fails \
                 with \"{error}\""
            ),
            stacked,
        ),
        Ok(products) if products != expected => searched.fail(
            &format!("the payload {attack:?} changed the products: they now read {products:?}"),
            stacked,
        ),
        Ok(_) => {}
    }
    let customers: rusqlite::Result<Vec<CustomerRow>> = db
        .prepare("SELECT id, email, name, password_hash, role FROM customers ORDER BY id")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })?
                .collect()
        });
    let expected: Vec<CustomerRow> = CUSTOMERS
        .iter()
        .map(|c| {
            (
                c.0,
                c.1.to_string(),
                c.2.to_string(),
                c.3.to_string(),
                c.4.to_string(),
            )
        })
        .collect();
    match customers {
        Err(error) => searched.fail(
            &format!(
                "the payload {attack:?} destroyed the customers table: reading it now fails \
                 with \"{error}\""
            ),
            stacked,
        ),
        Ok(customers) if customers != expected => searched.fail(
            &format!("the payload {attack:?} changed the customers: they now read {customers:?}"),
            stacked,
        ),
        Ok(_) => {}
    }
    let terms: rusqlite::Result<Vec<String>> = db
        .prepare("SELECT term FROM searches ORDER BY id")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect());
    let terms = match terms {
        Ok(terms) => terms,
        Err(error) => searched.fail(
            &format!(
                "the payload {attack:?} destroyed the searches table: reading it now fails \
                 with \"{error}\""
            ),
            stacked,
        ),
    };
    if terms.len() != served.searches {
        searched.fail(
            &format!(
                "`searches` holds {} rows after {} searches answered 200 OK: every search \
                 is recorded once",
                terms.len(),
                served.searches
            ),
            "Each search answered 200 adds one row to `searches`: not none, not two.",
        );
    }
    if searched.reply.status() == 200 && terms.last().map(String::as_str) != Some(term) {
        searched.fail(
            &format!(
                "the last search recorded is {:?}, expected the term exactly as sent, {term:?}",
                terms.last()
            ),
            "The term is stored as the client sent it, quotes and all: the analytics want \
             to see what people (and attackers) searched for. Removing or doubling quotes \
             changes it; a bound parameter stores it as it is.",
        );
    }
}

/// Fails unless the search answered `400 Bad Request` as problem details
/// whose `detail` names `parameter`.
#[track_caller]
fn assert_refused(searched: &Searched, parameter: &str, diagnosis: &str) {
    let reply = &searched.reply;
    if reply.status() != 400 {
        let found = if reply.status() == 200 {
            match reply.json().as_array() {
                Some(products) => format!(" ({})", count_products(products.len())),
                None => String::new(),
            }
        } else {
            String::new()
        };
        searched.fail(
            &format!(
                "expected status 400 Bad Request for this `{parameter}`, got {}{found}",
                testkit::status_text(reply.status())
            ),
            diagnosis,
        );
    }
    reply.assert_content_type("application/problem+json");
    let body = reply.json();
    if body["status"] != json!(400) {
        reply.fail("expected the problem details body to say \"status\": 400");
    }
    let Some(detail) = body["detail"].as_str() else {
        reply.fail("expected the problem details body to have a `detail` text");
    };
    if !detail.contains(parameter) {
        reply.fail(&format!(
            "expected the problem's detail to name `{parameter}`, got {detail:?}"
        ));
    }
}

// ANCHOR: tautologies
#[tokio::test]
async fn tautologies_find_only_what_their_text_finds() {
    let shop = Shop::new();
    let mut served = shop.serve().await;

    for attack in [
        "' OR '1'='1",
        "' OR 1=1--",
        "' or 1=1 -- ",
        "') OR ('a'='a",
        "%' OR 'x'='x",
        "' OR ''='",
        "zzz' OR name LIKE '%",
    ] {
        let searched = search(&mut served, &[("q", attack)]).await;
        assert_searched_as_text(&searched, attack, None);
    }

    let searches: [(&str, &[i64]); 7] = [
        ("O'Brien's", &[8, 9]),
        ("o'brien's MUG", &[8]),
        ("\"Staff only\"", &[11]),
        ("mug", &[1, 2, 5, 6, 8]),
        ("crème", &[7]),
        ("brûlée torch", &[7]),
        ("", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    ];
    for (q, expected) in searches {
        let searched = search(&mut served, &[("q", q)]).await;
        assert_finds(
            &searched,
            expected,
            "A real search finds the names that contain `q`, ASCII letters in either case, \
             quotes and letters outside ASCII as written. A fix that removes or refuses \
             quotes stops the attack and O'Brien's with it.",
        );
    }
}
// ANCHOR_END: tautologies

#[tokio::test]
async fn a_comment_cannot_cut_the_price_filter_off() {
    let shop = Shop::new();
    let mut served = shop.serve().await;

    for attack in ["mug'--", "mug' -- ", "mug'/*", "Red mug';--"] {
        let searched = search(&mut served, &[("q", attack), ("max_price", "1000")]).await;
        assert_searched_as_text(&searched, attack, Some(1000));
    }

    let searches: [(&str, &str, &[i64]); 4] = [
        ("mug", "1000", &[8]),
        ("table; oak --", "20000", &[10]),
        ("--", "20000", &[10]),
        ("Drop-leaf table", "18899", &[]),
    ];
    for (q, max_price, expected) in searches {
        let searched = search(&mut served, &[("q", q), ("max_price", max_price)]).await;
        assert_finds(
            &searched,
            expected,
            "`--` and `;` in `q` are characters of a name like any other, and the price \
             filter applies to every search.",
        );
    }
}

// ANCHOR: union
#[tokio::test]
async fn union_select_reveals_no_customer_and_no_schema() {
    let shop = Shop::new();
    let mut served = shop.serve().await;

    for attack in [
        "' UNION SELECT id, email, password_hash, 0, 0 FROM customers--",
        "' union select id, email, password_hash, 0, 0 from customers--",
        "'/**/UnIoN/**/SeLeCt/**/id,email,password_hash,0,0/**/FrOm/**/customers/*",
        "zzz' UNION ALL SELECT id, email, name, 0, 0 FROM customers WHERE email LIKE '",
        "' UNION SELECT 1, name, sql, 0, 0 FROM sqlite_master WHERE sql IS NOT NULL--",
        "' UNION SELECT 1, sqlite_version(), group_concat(email || ':' || password_hash), 0, 0 FROM customers--",
    ] {
        let searched = search(&mut served, &[("q", attack)]).await;
        assert_searched_as_text(&searched, attack, None);
    }

    for q in ["union jack", "UNION"] {
        let searched = search(&mut served, &[("q", q)]).await;
        assert_finds(
            &searched,
            &[2],
            "Union Jack mug is a product: a search for the word UNION is a real search. \
             Refusing SQL's words refuses customers, and misses the payloads that spell \
             them another way.",
        );
    }
}
// ANCHOR_END: union

#[tokio::test]
async fn stacked_statements_change_nothing() {
    let shop = Shop::new();
    let mut served = shop.serve().await;

    for attack in [
        "'); DROP TABLE products;--",
        "'); DELETE FROM customers;--",
        "'); UPDATE products SET price_cents = 1;--",
        "'); INSERT INTO customers (email, name, password_hash, role) VALUES ('mallory@attacker.test', 'Mallory', 'x', 'admin');--",
        "x'); UPDATE customers SET role = 'admin' WHERE email = 'ada@example.com'; --",
        "'); DROP TABLE searches;--",
        "'; DROP TABLE products;--",
        "x'); DROP TABLE products; -- ",
    ] {
        let searched = search(&mut served, &[("q", attack)]).await;
        assert_intact(&shop, &served, &searched, attack, attack);
        assert_searched_as_text(&searched, attack, None);
    }

    for (q, expected) in [("Drop-leaf table; oak", &[10][..]), ("O'Brien's", &[8, 9])] {
        let searched = search(&mut served, &[("q", q)]).await;
        assert_finds(
            &searched,
            expected,
            "A real search still finds what it finds, and is recorded.",
        );
        assert_intact(&shop, &served, &searched, q, q);
    }
}

// ANCHOR: max_price
#[tokio::test]
async fn max_price_is_a_number_and_nothing_else() {
    let shop = Shop::new();
    let mut served = shop.serve().await;

    for attack in [
        "0 OR 1=1",
        "1 UNION SELECT id, email, password_hash, 0, 0 FROM customers",
        "(SELECT count(*) FROM customers)",
        "0; DROP TABLE products",
        "1000--",
        "0x7fffffff",
        "12.50",
        "1e3",
        "",
        " 1000",
        "9223372036854775808",
    ] {
        let searched = search(&mut served, &[("q", "mug"), ("max_price", attack)]).await;
        assert_leaks_nothing(&searched, attack);
        assert_refused(
            &searched,
            "max_price",
            "`max_price` is a whole number of cents or a 400. Pasted into the SQL, it needs \
             no quote to break out: `0 OR 1=1` is SQL already. Parse it into an integer \
             first (a 400 if it is not one), then bind the integer.",
        );
        assert_intact(&shop, &served, &searched, attack, "mug");
    }

    let searches: [(&str, &[i64]); 6] = [
        ("1250", &[1, 2, 8]),
        ("1249", &[8]),
        ("+900", &[8]),
        ("-1", &[]),
        ("0", &[]),
        ("9223372036854775807", &[1, 2, 5, 6, 8]),
    ];
    for (max_price, expected) in searches {
        let searched = search(&mut served, &[("q", "mug"), ("max_price", max_price)]).await;
        assert_finds(
            &searched,
            expected,
            "`max_price` keeps the products that cost at most that many cents (the bound \
             itself included). Any integer an i64 holds is a price a client may ask for, \
             with an optional sign.",
        );
    }
}
// ANCHOR_END: max_price

// ANCHOR: sort
#[tokio::test]
async fn sort_is_one_of_four_columns() {
    let shop = Shop::new();
    let mut served = shop.serve().await;

    for attack in [
        "(CASE WHEN (SELECT substr(password_hash, 1, 9) FROM customers WHERE role = 'admin') = '$argon2id' THEN name ELSE price_cents END)",
        "name; DROP TABLE products",
        "price_cents DESC, (SELECT password_hash FROM customers)",
        "-(SELECT 1)",
        "name--",
        "1",
        "name ",
        "price",
        "-",
        "",
    ] {
        let searched = search(&mut served, &[("sort", attack)]).await;
        assert_leaks_nothing(&searched, attack);
        assert_refused(
            &searched,
            "sort",
            "A column's name cannot be a bound parameter, so `sort` goes into the SQL's \
             text, and only a name your code holds may: compare `sort` with the four \
             allowed, exactly, and put the one it equals into the query. Escaping does \
             not help here: `(CASE WHEN ... THEN name ELSE price_cents END)` holds no \
             quote, and its order tells a secret one bit at a time.",
        );
        assert_intact(&shop, &served, &searched, attack, "");
    }

    let orders: [(Option<&str>, &[i64]); 6] = [
        (None, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
        (Some("id"), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
        (Some("-id"), &[11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]),
        (Some("-price_cents"), &[10, 7, 4, 3, 5, 6, 1, 2, 8, 9, 11]),
        (Some("name"), &[11, 3, 4, 7, 10, 8, 9, 1, 2, 6, 5]),
        (Some("stock"), &[2, 6, 9, 7, 10, 5, 8, 3, 4, 11, 1]),
    ];
    for (sort, expected) in orders {
        let params: Vec<(&str, &str)> = sort.map(|sort| ("sort", sort)).into_iter().collect();
        let searched = search(&mut served, &params).await;
        assert_finds(
            &searched,
            expected,
            "`sort` orders by the column it names (`-` first: descending), products that \
             tie in ascending id order; without `sort`, by id.",
        );
        assert_intact(&shop, &served, &searched, "(no q)", "");
    }
}
// ANCHOR_END: sort

// ANCHOR: blind
#[tokio::test]
async fn blind_probes_get_the_same_answer_whatever_they_ask() {
    let shop = Shop::new();
    let mut served = shop.serve().await;

    let pairs = [
        ("mug' AND 1=1--", "mug' AND 1=2--"),
        (
            "' AND substr((SELECT password_hash FROM customers WHERE role = 'admin'), 1, 1) = '$'--",
            "' AND substr((SELECT password_hash FROM customers WHERE role = 'admin'), 1, 1) = 'x'--",
        ),
        (
            "' AND (SELECT count(*) FROM customers WHERE email LIKE 'a%') > 0--",
            "' AND (SELECT count(*) FROM customers WHERE email LIKE 'z%') > 0--",
        ),
        (
            "' AND unicode(substr((SELECT email FROM customers WHERE id = 1), 1, 1)) > 96 AND '%'='",
            "' AND unicode(substr((SELECT email FROM customers WHERE id = 1), 1, 1)) > 122 AND '%'='",
        ),
    ];
    for (true_probe, false_probe) in pairs {
        let when_true = search(&mut served, &[("q", true_probe)]).await;
        let when_false = search(&mut served, &[("q", false_probe)]).await;
        let true_ids = when_true.ids(&broke_the_query(true_probe));
        let false_ids = when_false.ids(&broke_the_query(false_probe));
        if true_ids != false_ids {
            when_false.fail(
                &format!(
                    "a blind boolean probe gets two answers: {} for the probe whose condition \
                     is true, {} for the one whose condition is false\n  true probe:  \
                     {true_probe:?}\n  false probe: {false_probe:?}",
                    count_products(true_ids.len()),
                    count_products(false_ids.len()),
                ),
                "The condition after AND ran as SQL, so the answer says whether it holds: \
                 asked one character at a time, it spells out a password hash without ever \
                 showing it. The two payloads are just two texts no name contains: bind `q` \
                 as a parameter and both find nothing.",
            );
        }
        assert_searched_as_text(&when_true, true_probe, None);
        assert_searched_as_text(&when_false, false_probe, None);
    }

    let searches: [(&str, &[i64]); 3] =
        [("mug", &[1, 2, 5, 6, 8]), ("Red mug", &[1]), ("' mug", &[])];
    for (q, expected) in searches {
        let searched = search(&mut served, &[("q", q)]).await;
        assert_finds(
            &searched,
            expected,
            "A real search finds what its text finds.",
        );
    }
}
// ANCHOR_END: blind

#[tokio::test]
async fn like_wildcards_in_q_are_plain_characters() {
    let shop = Shop::new();
    let mut served = shop.serve().await;

    let diagnosis = "In a LIKE pattern `%` stands for any text and `_` for any one character, \
                     so a `q` put into the pattern as it is finds too much: `%` lists the whole \
                     catalogue, and a long `_%_%_%...` makes SQLite try every way to match it. \
                     Binding `q` is not enough here: escape `%`, `_` and the escape character \
                     itself in the bound pattern and name it with ESCAPE, or search without LIKE \
                     (`instr`).";
    let searches: [(&str, &[i64]); 9] = [
        ("%", &[3]),
        ("_", &[5]),
        ("%%", &[]),
        ("_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%", &[]),
        ("100%", &[3]),
        ("snake_case", &[5]),
        ("\\", &[]),
        ("100\\%", &[]),
        ("\\ cotton", &[]),
    ];
    for (q, expected) in searches {
        let searched = search(&mut served, &[("q", q)]).await;
        let ids = searched.ids(&broke_the_query(q));
        if ids != expected {
            searched.fail(
                &format!(
                    "the search for {q:?} returned {}, expected {}: a character of `q` \
                     meant more than itself in the pattern\n  expected:   {}\n  got:        {}",
                    count_products(ids.len()),
                    count_products(expected.len()),
                    named(expected),
                    named(&ids)
                ),
                diagnosis,
            );
        }
    }
}

// ANCHOR: time
#[tokio::test]
async fn time_based_probes_make_sqlite_do_no_work() {
    let shop = Shop::new();
    let mut served = shop.serve().await;

    // What a search may cost, in steps of SQLite's virtual machine: a
    // search of eleven products takes a few hundred; these probes, run as
    // SQL, take millions.
    const MOST_STEPS: i64 = 100_000;
    let heavy = "(SELECT count(*) FROM (WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL \
                 SELECT n + 1 FROM r WHERE n < 300000) SELECT n FROM r))";
    let probes = [
        format!("' AND {heavy} > 0--"),
        format!(
            "' AND CASE WHEN substr((SELECT password_hash FROM customers WHERE role = 'admin'), \
             1, 1) = '$' THEN {heavy} ELSE 1 END > 0--"
        ),
        "' AND (SELECT count(*) FROM products a, products b, products c, products d, \
         products e) > 0--"
            .to_string(),
    ];
    for probe in &probes {
        let searched = search(&mut served, &[("q", probe)]).await;
        if let Some(ran) = searched.ran.iter().find(|ran| ran.steps > MOST_STEPS) {
            searched.fail(
                &format!(
                    "the time-based probe {probe:?} made SQLite take {} steps for one \
                     statement (a search takes a few hundred): the payload ran as SQL",
                    ran.steps
                ),
                "SQLite has no SLEEP, so a time-based probe asks for heavy work instead (a \
                 recursive count, a join of a table with itself, a huge randomblob) when a \
                 condition holds: the attacker reads the answer from how long it takes, \
                 even when the page shows nothing. Bind `q` as a parameter, and the probe \
                 is a text that no name contains.",
            );
        }
        assert_searched_as_text(&searched, probe, None);
    }

    let searched = search(&mut served, &[("q", "puzzle")]).await;
    assert_finds(&searched, &[4], "A real search finds what its text finds.");
}
// ANCHOR_END: time
