//! Tests for auth/authorization: the shop's app on a real SQLite file in a
//! temporary folder, called over HTTP on 127.0.0.1 with bearer tokens the
//! shop itself signs, the database read and changed with a connection of
//! the test's own.
//!
//! Authorization is tested as a matrix: every admin route with an anonymous
//! caller, a customer and an admin; every order route with the owner,
//! another customer, an admin and an anonymous caller. Roles are changed in
//! the database between requests, with tokens that still claim the old
//! role, and refused requests are checked in the database too: a refusal
//! that changed something is no refusal.

use std::path::PathBuf;
use std::time::Duration;

use auth_authorization::{Role, Shop, app};
use rusqlite::{Connection, params};
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, json, status_text};

/// The key the tests' shop signs its tokens with.
const SECRET: &[u8] = b"the tests' own signing key, 32 b";

/// A password hash for the customers' rows; no test logs in with it.
const SOME_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                         n6uP0rmyoo1zqTJ2nALjLaJgtpSfbxDKvvCmkgX7y4c";

/// Ada (1), Grace (2) and Margaret (4) are customers, Linus (3) an admin.
const ADA: i64 = 1;
const GRACE: i64 = 2;
const LINUS: i64 = 3;
const MARGARET: i64 = 4;

/// A shop in a temporary SQLite file with four customers, three products
/// (7, the red mug, 12 in stock; 8, the green tea, 5; 9, the spoon, 40,
/// in no order) and five orders:
///
/// | order | customer | status    | items        |
/// | ----- | -------- | --------- | ------------ |
/// | 1     | Ada      | pending   | 2 mugs       |
/// | 2     | Grace    | pending   | 1 tea        |
/// | 3     | Ada      | paid      | 1 tea        |
/// | 4     | Linus    | pending   | 1 mug        |
/// | 5     | Grace    | shipped   | 3 mugs       |
struct Fixture {
    _folder: TempDir,
    path: PathBuf,
    shop: Shop,
}

impl Fixture {
    fn new() -> Fixture {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let shop = Shop::open(&path, SECRET).unwrap_or_else(|error| {
            panic!(
                "\nShop::open failed on a new file: {error}\n  call: Shop::open(&path, SECRET)\n"
            )
        });
        let fixture = Fixture {
            _folder: folder,
            path,
            shop,
        };
        fixture
            .connect()
            .execute_batch(&format!(
                "INSERT INTO customers (id, email, name, password_hash, role) VALUES
                     (1, 'ada@example.com', 'Ada', '{SOME_HASH}', 'customer'),
                     (2, 'grace@example.com', 'Grace', '{SOME_HASH}', 'customer'),
                     (3, 'linus@example.com', 'Linus', '{SOME_HASH}', 'admin'),
                     (4, 'margaret@example.com', 'Margaret', '{SOME_HASH}', 'customer');
                 INSERT INTO products (id, sku, name, price_cents, stock, created_at) VALUES
                     (7, 'MUG-RED', 'Red mug', 1250, 12, '2026-11-30T09:15:00Z'),
                     (8, 'TEA-GREEN', 'Green tea', 450, 5, '2026-11-30T09:15:00Z'),
                     (9, 'SPOON', 'Spoon', 300, 40, '2026-11-30T09:15:00Z');"
            ))
            .expect("the test could not add its customers and products");
        for (customer, status, product, quantity) in [
            (ADA, "pending", 7, 2),
            (GRACE, "pending", 8, 1),
            (ADA, "paid", 8, 1),
            (LINUS, "pending", 7, 1),
            (GRACE, "shipped", 7, 3),
        ] {
            fixture.add_order(customer, status, product, quantity);
        }
        fixture
    }

    /// A connection of the test's own, patient with the app's locks.
    fn connect(&self) -> Connection {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        db.busy_timeout(Duration::from_secs(10))
            .expect("the test could not set a busy timeout");
        db
    }

    /// The shop's app on this file, served on a free port.
    async fn server(&self) -> TestServer {
        TestServer::spawn(app(self.shop.clone())).await
    }

    /// A valid token for `customer`, claiming `role`.
    fn token(&self, customer: i64, role: Role) -> String {
        format!("Bearer {}", self.shop.issue_token(customer, role))
    }

    /// Adds an order of `quantity` of `product` for `customer`; its id.
    fn add_order(&self, customer: i64, status: &str, product: i64, quantity: i64) -> i64 {
        let db = self.connect();
        let id: i64 = db
            .query_row(
                "INSERT INTO orders (customer_id, status, total_cents, created_at)
                 SELECT ?1, ?2, price_cents * ?4, '2026-11-30T09:15:00Z'
                 FROM products WHERE id = ?3
                 RETURNING id",
                params![customer, status, product, quantity],
                |row| row.get(0),
            )
            .expect("the test could not add an order");
        db.execute(
            "INSERT INTO order_items (order_id, product_id, quantity, price_cents)
             SELECT ?1, id, ?3, price_cents FROM products WHERE id = ?2",
            params![id, product, quantity],
        )
        .expect("the test could not add an order's item");
        id
    }

    fn set_role(&self, customer: i64, role: &str) {
        self.connect()
            .execute(
                "UPDATE customers SET role = ?2 WHERE id = ?1",
                params![customer, role],
            )
            .expect("the test could not change a customer's role");
    }

    fn order_status(&self, order: i64) -> String {
        self.connect()
            .query_row("SELECT status FROM orders WHERE id = ?1", [order], |row| {
                row.get(0)
            })
            .expect("the test could not read an order's status")
    }

    /// Product `id` as `(sku, name, price_cents, stock, version)`, if any.
    fn product(&self, id: i64) -> Option<(String, String, i64, i64, i64)> {
        let db = self.connect();
        let mut statement = db
            .prepare("SELECT sku, name, price_cents, stock, version FROM products WHERE id = ?1")
            .expect("the test could not read a product");
        let mut rows = statement
            .query_map([id], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })
            .expect("the test could not read a product");
        rows.next()
            .map(|row| row.expect("the test could not read a product"))
    }

    fn stock(&self, product: i64) -> i64 {
        self.product(product)
            .unwrap_or_else(|| panic!("\nproduct {product} is gone from the database\n"))
            .3
    }

    fn count_products_with_sku(&self, sku: &str) -> i64 {
        self.connect()
            .query_row(
                "SELECT count(*) FROM products WHERE sku = ?1",
                [sku],
                |row| row.get(0),
            )
            .expect("the test could not count products")
    }
}

/// The body of a `401` (with `WWW-Authenticate: Bearer`).
fn unauthorized_body() -> Value {
    json!({
        "type": "about:blank", "title": "Unauthorized", "status": 401,
        "detail": "This needs a valid bearer token.",
    })
}

/// The body of a `403`.
fn forbidden_body() -> Value {
    json!({
        "type": "about:blank", "title": "Forbidden", "status": 403,
        "detail": "Only an admin may do this.",
    })
}

/// The body of the `404` for order `id`: the same for an order that does
/// not exist and for one the caller may not see.
fn order_not_found_body(id: i64) -> Value {
    json!({
        "type": "about:blank", "title": "Not found", "status": 404,
        "detail": format!("There is no order {id}."),
    })
}

/// Order `id` of the fixture, as the API sends it.
fn order_json(id: i64, status: &str) -> Value {
    let (customer, product, quantity, price) = match id {
        1 => (ADA, 7, 2, 1250),
        2 => (GRACE, 8, 1, 450),
        3 => (ADA, 8, 1, 450),
        4 => (LINUS, 7, 1, 1250),
        5 => (GRACE, 7, 3, 1250),
        _ => panic!("the fixture has no order {id}"),
    };
    json!({
        "id": id,
        "customer_id": customer,
        "status": status,
        "items": [{ "product_id": product, "quantity": quantity, "price_cents": price }],
        "total_cents": quantity * price,
        "created_at": "2026-11-30T09:15:00Z",
    })
}

/// Fails unless `reply` is the `401` of a request without a valid token.
#[track_caller]
fn assert_unauthorized(reply: &Reply, who: &str) {
    if reply.status() != 401 {
        reply.fail_with_diagnosis(
            &format!(
                "{who} got {}, expected 401 Unauthorized",
                status_text(reply.status())
            ),
            "Every route of the shop needs to know who is calling: a handler that takes a \
             `Viewer` or an `Admin` gets the given `Caller`'s 401 for free, as long as the \
             extractor returns the `Caller`'s refusal (`?`) instead of carrying on.",
        );
    }
    reply
        .assert_content_type("application/problem+json")
        .assert_header("www-authenticate", "Bearer")
        .assert_json(&unauthorized_body());
}

/// Fails unless `reply` is the `403` of a customer on an admin route.
#[track_caller]
fn assert_forbidden(reply: &Reply, who: &str) {
    if reply.status() != 403 {
        reply.fail_with_diagnosis(
            &format!(
                "{who} got {}, expected 403 Forbidden",
                status_text(reply.status())
            ),
            "An admin route is for callers whose role in the database is `admin`, now. The \
             token proves who is calling; the role it claims is the one the customer had when \
             it was issued, and a `role` in the query or the body is whatever the caller \
             typed. Neither decides anything. 401 is for a caller the shop does not know; a \
             known customer without the right is 403.",
        );
    }
    reply
        .assert_content_type("application/problem+json")
        .assert_json(&forbidden_body());
}

/// Fails unless `reply` is the `404` of order `id`, word for word the one a
/// missing order gets.
#[track_caller]
fn assert_order_hidden(reply: &Reply, id: i64, who: &str) {
    if reply.status() != 404 {
        let diagnosis = if reply.status() == 403 {
            "403 tells the caller that the order exists and is someone else's: enough to \
             count a shop's orders, or to learn that an id is worth attacking. Answer an order \
             the caller may not see exactly like an order that does not exist."
        } else {
            "A customer may see their own orders only: ask the database for the order with \
             this id AND this customer (unless the caller is an admin), and answer a missing \
             row with the same 404 as a missing order."
        };
        reply.fail_with_diagnosis(
            &format!(
                "{who} got {}, expected 404 Not Found",
                status_text(reply.status())
            ),
            diagnosis,
        );
    }
    reply.assert_content_type("application/problem+json");
    let body = reply.json();
    if body != order_not_found_body(id) {
        reply.fail_with_diagnosis(
            &format!(
                "{who} got another 404 body than a missing order gets\n  expected: {}",
                order_not_found_body(id)
            ),
            "Any difference (a title, a detail, a field) between the 404 for another \
             customer's order and the 404 for an order that does not exist tells the caller \
             which ids exist. Answer both with `order_not_found(id)`.",
        );
    }
}

#[tokio::test]
async fn creating_a_product_is_for_admins_only() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let spoon = json!({ "sku": "SPOON-XL", "name": "Large spoon", "price_cents": 450, "stock": 8 });

    let anonymous = server.post("/admin/products").json(&spoon).send().await;
    assert_unauthorized(&anonymous, "POST /admin/products without a token");
    let forged = server
        .post("/admin/products")
        .header("authorization", "Bearer not.a.token")
        .json(&spoon)
        .send()
        .await;
    assert_unauthorized(&forged, "POST /admin/products with a token that is not one");

    let ada = fixture.token(ADA, Role::Customer);
    let customer = server
        .post("/admin/products")
        .header("authorization", &ada)
        .json(&spoon)
        .send()
        .await;
    assert_forbidden(&customer, "a customer's POST /admin/products");
    let asking = server
        .post("/admin/products?role=admin")
        .header("authorization", &ada)
        .json(&spoon)
        .send()
        .await;
    assert_forbidden(&asking, "a customer's POST /admin/products?role=admin");
    let mut claiming = spoon.clone();
    claiming["role"] = json!("admin");
    let claiming = server
        .post("/admin/products")
        .header("authorization", &ada)
        .json(&claiming)
        .send()
        .await;
    assert_forbidden(
        &claiming,
        "a customer's POST /admin/products with \"role\": \"admin\" in the body",
    );
    let stored = fixture.count_products_with_sku("SPOON-XL");
    if stored != 0 {
        claiming.fail(&format!(
            "refused requests created {stored} products SPOON-XL, expected none\nThe check must \
             come before the work: a 403 after the INSERT is a 403 that lies."
        ));
    }

    let linus = fixture.token(LINUS, Role::Admin);
    let admin = server
        .post("/admin/products")
        .header("authorization", &linus)
        .json(&spoon)
        .send()
        .await;
    if admin.status() != 201 {
        admin.fail_with_diagnosis(
            &format!(
                "an admin's POST /admin/products got {}, expected 201 Created",
                status_text(admin.status())
            ),
            "Linus's role in the database is `admin`: the `Admin` extractor lets him through.",
        );
    }
    let id = admin.json()["id"].as_i64().unwrap_or_default();
    admin.assert_json(&json!({
        "id": id, "sku": "SPOON-XL", "name": "Large spoon", "price_cents": 450, "stock": 8,
    }));
    if fixture.count_products_with_sku("SPOON-XL") != 1 {
        admin.fail("an admin's POST /admin/products answered 201, but stored no product");
    }
}

#[tokio::test]
async fn changing_a_product_is_for_admins_only() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let cheap = json!({ "sku": "MUG-RED", "name": "Red mug", "price_cents": 1, "stock": 12 });
    let unchanged = Some(("MUG-RED".to_string(), "Red mug".to_string(), 1250, 12, 1));

    let anonymous = server.put("/admin/products/7").json(&cheap).send().await;
    assert_unauthorized(&anonymous, "PUT /admin/products/7 without a token");
    for (customer, name) in [(ADA, "Ada"), (GRACE, "Grace")] {
        let customer = server
            .put("/admin/products/7")
            .header("authorization", &fixture.token(customer, Role::Customer))
            .json(&cheap)
            .send()
            .await;
        assert_forbidden(&customer, &format!("{name}'s PUT /admin/products/7"));
        if fixture.product(7) != unchanged {
            customer.fail(&format!(
                "a refused PUT /admin/products/7 changed the product: {:?}, expected {:?}",
                fixture.product(7),
                unchanged
            ));
        }
    }

    let admin = server
        .put("/admin/products/7")
        .header("authorization", &fixture.token(LINUS, Role::Admin))
        .json(&cheap)
        .send()
        .await;
    admin.assert_status(200).assert_json(&json!({
        "id": 7, "sku": "MUG-RED", "name": "Red mug", "price_cents": 1, "stock": 12,
    }));
    let changed = Some(("MUG-RED".to_string(), "Red mug".to_string(), 1, 12, 2));
    if fixture.product(7) != changed {
        admin.fail(&format!(
            "an admin's PUT /admin/products/7 left {:?}, expected {:?}",
            fixture.product(7),
            changed
        ));
    }
}

#[tokio::test]
async fn deleting_a_product_is_for_admins_only() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    let anonymous = server.delete("/admin/products/9").send().await;
    assert_unauthorized(&anonymous, "DELETE /admin/products/9 without a token");
    let customer = server
        .delete("/admin/products/9")
        .header("authorization", &fixture.token(GRACE, Role::Customer))
        .send()
        .await;
    assert_forbidden(&customer, "a customer's DELETE /admin/products/9");
    if fixture.product(9).is_none() {
        customer.fail("a refused DELETE /admin/products/9 deleted the product");
    }

    let admin = server
        .delete("/admin/products/9")
        .header("authorization", &fixture.token(LINUS, Role::Admin))
        .send()
        .await;
    admin.assert_status(204);
    if fixture.product(9).is_some() {
        admin.fail("an admin's DELETE /admin/products/9 answered 204, but the product is there");
    }
}

#[tokio::test]
async fn an_admins_product_changes_still_meet_the_shops_rules() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let linus = fixture.token(LINUS, Role::Admin);
    let product = |sku: &str, name: &str, price_cents: i64, stock: i64| json!({ "sku": sku, "name": name, "price_cents": price_cents, "stock": stock });
    let problem = |status: u16, title: &str, detail: &str| json!({ "type": "about:blank", "title": title, "status": status, "detail": detail });
    let nameless = "A product needs a sku and a name.";
    let negative = "A price and a stock are never negative.";

    for (body, status, expected) in [
        (
            product(" ", "Spoon", 300, 1),
            422,
            problem(422, "Invalid product", nameless),
        ),
        (
            product("SPOON-2", "", 300, 1),
            422,
            problem(422, "Invalid product", nameless),
        ),
        (
            product("SPOON-2", "Spoon", -1, 1),
            422,
            problem(422, "Invalid product", negative),
        ),
        (
            product("SPOON-2", "Spoon", 300, -1),
            422,
            problem(422, "Invalid product", negative),
        ),
        (
            product("MUG-RED", "Another mug", 300, 1),
            409,
            problem(409, "Duplicate sku", "Another product has this sku."),
        ),
    ] {
        let reply = server
            .post("/admin/products")
            .header("authorization", &linus)
            .json(&body)
            .send()
            .await;
        reply.assert_status(status).assert_json(&expected);
    }
    let free = server
        .post("/admin/products")
        .header("authorization", &linus)
        .json(&product("SPOON-2", "Spoon", 0, 0))
        .send()
        .await;
    free.assert_status(201);

    let duplicate = server
        .put("/admin/products/8")
        .header("authorization", &linus)
        .json(&product("MUG-RED", "Green tea", 450, 5))
        .send()
        .await;
    duplicate.assert_status(409).assert_json(&problem(
        409,
        "Duplicate sku",
        "Another product has this sku.",
    ));
    let missing = server
        .put("/admin/products/99")
        .header("authorization", &linus)
        .json(&product("NEW", "New", 1, 1))
        .send()
        .await;
    missing
        .assert_status(404)
        .assert_json(&problem(404, "Not found", "There is no product 99."));
    let gone = server
        .delete("/admin/products/99")
        .header("authorization", &linus)
        .send()
        .await;
    gone.assert_status(404)
        .assert_json(&problem(404, "Not found", "There is no product 99."));
    let ordered = server
        .delete("/admin/products/7")
        .header("authorization", &linus)
        .send()
        .await;
    ordered.assert_status(409).assert_json(&problem(
        409,
        "Product is ordered",
        "Product 7 is in an order: it cannot be deleted.",
    ));

    // A database that fails is the shop's fault: 500, and nothing more.
    fixture
        .connect()
        .execute_batch("DROP TABLE order_items; DROP TABLE products;")
        .expect("the test could not drop the products");
    let internal = problem(
        500,
        "Internal Server Error",
        "Something went wrong on our side. Please try again.",
    );
    let body = product("SPOON-3", "Spoon", 1, 1);
    for reply in [
        server
            .post("/admin/products")
            .header("authorization", &linus)
            .json(&body)
            .send()
            .await,
        server
            .put("/admin/products/9")
            .header("authorization", &linus)
            .json(&body)
            .send()
            .await,
        server
            .delete("/admin/products/9")
            .header("authorization", &linus)
            .send()
            .await,
    ] {
        reply.assert_status(500).assert_json(&internal);
    }
}

#[tokio::test]
async fn the_list_of_every_order_is_for_admins_only() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    let anonymous = server.get("/admin/orders").send().await;
    assert_unauthorized(&anonymous, "GET /admin/orders without a token");
    let customer = server
        .get("/admin/orders")
        .header("authorization", &fixture.token(ADA, Role::Customer))
        .send()
        .await;
    assert_forbidden(&customer, "a customer's GET /admin/orders");

    let admin = server
        .get("/admin/orders")
        .header("authorization", &fixture.token(LINUS, Role::Admin))
        .send()
        .await;
    admin.assert_status(200).assert_json(&json!([
        order_json(1, "pending"),
        order_json(2, "pending"),
        order_json(3, "paid"),
        order_json(4, "pending"),
        order_json(5, "shipped"),
    ]));
}

#[tokio::test]
async fn the_role_is_the_one_the_database_holds_now_not_the_tokens() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    // Both tokens are issued before the roles change, and keep claiming
    // the old ones.
    let ada = fixture.token(ADA, Role::Customer);
    let linus = fixture.token(LINUS, Role::Admin);

    fixture.set_role(LINUS, "customer");
    let demoted = server
        .get("/admin/orders")
        .header("authorization", &linus)
        .send()
        .await;
    if demoted.status() == 200 {
        demoted.fail_with_diagnosis(
            "an admin demoted to customer in the database still got 200 from GET /admin/orders \
             with his token, expected 403 Forbidden",
            "His token was issued while he was an admin and says `\"role\": \"admin\"` until it \
             expires, in an hour. A role in a token is a snapshot of the past: read the role \
             from the `customers` table on every request, and a demotion holds at once.",
        );
    }
    assert_forbidden(&demoted, "a demoted admin's GET /admin/orders");
    let delete = server
        .delete("/admin/products/9")
        .header("authorization", &linus)
        .send()
        .await;
    assert_forbidden(&delete, "a demoted admin's DELETE /admin/products/9");
    if fixture.product(9).is_none() {
        delete.fail("a demoted admin's refused DELETE /admin/products/9 deleted the product");
    }
    let hidden = server
        .get("/orders/1")
        .header("authorization", &linus)
        .send()
        .await;
    assert_order_hidden(&hidden, 1, "a demoted admin's GET /orders/1 (Ada's order)");

    fixture.set_role(ADA, "admin");
    let promoted = server
        .get("/admin/orders")
        .header("authorization", &ada)
        .send()
        .await;
    if promoted.status() != 200 {
        promoted.fail_with_diagnosis(
            &format!(
                "a customer promoted to admin in the database got {} from GET /admin/orders, \
                 expected 200 OK",
                status_text(promoted.status())
            ),
            "Her token says `\"role\": \"customer\"`, from before the promotion; the database \
             says `admin`, and the database decides.",
        );
    }
    let graces = server
        .get("/orders/2")
        .header("authorization", &ada)
        .send()
        .await;
    graces
        .assert_status(200)
        .assert_json(&order_json(2, "pending"));
}

#[tokio::test]
async fn a_token_whose_customer_is_gone_gets_401_everywhere() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    // Margaret's token claims admin; then her account is deleted.
    let margaret = fixture.token(MARGARET, Role::Admin);
    fixture
        .connect()
        .execute("DELETE FROM customers WHERE id = ?1", [MARGARET])
        .expect("the test could not delete a customer");

    for (path, admin_route) in [
        ("/admin/orders", true),
        ("/orders", false),
        ("/orders/2", false),
    ] {
        let reply = server
            .get(path)
            .header("authorization", &margaret)
            .send()
            .await;
        if reply.status() != 401 {
            let diagnosis = if admin_route {
                "Her token is validly signed and claims `admin`, but there is no customer 4 \
                 any more, so no role either. Deny by default: a caller the database does not \
                 know gets the same 401 as a bad token. (A check such as `role != customer` \
                 lets her in: \"no role\" is not \"customer\".)"
            } else {
                "There is no customer 4 any more: whoever holds her token is nobody the shop \
                 knows. Reading the customer's row for the role is also what tells you it is \
                 gone: answer 401."
            };
            reply.fail_with_diagnosis(
                &format!(
                    "the token of a deleted customer got {} from GET {path}, expected 401 \
                     Unauthorized",
                    status_text(reply.status())
                ),
                diagnosis,
            );
        }
        assert_unauthorized(&reply, &format!("a deleted customer's GET {path}"));
    }
}

#[tokio::test]
async fn an_order_is_seen_by_its_owner_and_by_admins_only() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let ada = fixture.token(ADA, Role::Customer);
    let grace = fixture.token(GRACE, Role::Customer);
    let linus = fixture.token(LINUS, Role::Admin);

    let anonymous = server.get("/orders/1").send().await;
    assert_unauthorized(&anonymous, "GET /orders/1 without a token");
    let owner = server
        .get("/orders/1")
        .header("authorization", &ada)
        .send()
        .await;
    owner
        .assert_status(200)
        .assert_json(&order_json(1, "pending"));
    let other = server
        .get("/orders/1")
        .header("authorization", &grace)
        .send()
        .await;
    assert_order_hidden(&other, 1, "Grace's GET /orders/1 (Ada's order)");
    let back = server
        .get("/orders/2")
        .header("authorization", &ada)
        .send()
        .await;
    assert_order_hidden(&back, 2, "Ada's GET /orders/2 (Grace's order)");
    let missing = server
        .get("/orders/99")
        .header("authorization", &ada)
        .send()
        .await;
    assert_order_hidden(&missing, 99, "GET /orders/99 (no such order)");
    for (id, status) in [(1, "pending"), (2, "pending"), (3, "paid"), (5, "shipped")] {
        let admin = server
            .get(&format!("/orders/{id}"))
            .header("authorization", &linus)
            .send()
            .await;
        if admin.status() != 200 {
            admin.fail_with_diagnosis(
                &format!(
                    "an admin's GET /orders/{id} (another customer's order) got {}, expected \
                     200 OK",
                    status_text(admin.status())
                ),
                "Admins may read any order (support staff answer questions about them): the \
                 ownership condition applies to customers only.",
            );
        }
        admin.assert_json(&order_json(id, status));
    }
}

#[tokio::test]
async fn another_customers_order_looks_exactly_like_a_missing_one() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let grace = fixture.token(GRACE, Role::Customer);
    let graces = [2, 5];

    // What a missing order looks like, headers and all.
    let missing = server
        .get("/orders/1000")
        .header("authorization", &grace)
        .send()
        .await;
    assert_order_hidden(&missing, 1000, "GET /orders/1000 (no such order)");

    // Grace walks the ids, as an attacker would.
    for id in 1..=8 {
        let path = format!("/orders/{id}");
        let reply = server
            .get(&path)
            .header("authorization", &grace)
            .send()
            .await;
        if graces.contains(&id) {
            reply.assert_status(200);
            continue;
        }
        assert_order_hidden(&reply, id, &format!("Grace's GET {path} (not hers)"));
        let cancel = server
            .post(&format!("{path}/cancel"))
            .header("authorization", &grace)
            .send()
            .await;
        if cancel.status() == 409 {
            cancel.fail_with_diagnosis(
                &format!(
                    "Grace's POST {path}/cancel (not hers) got 409 Conflict, expected 404 Not \
                     Found"
                ),
                "409 says \"this order exists, and it is not pending\": the status check came \
                 before the ownership check. Look for the order the caller may see first; \
                 only an order she may see can be not pending.",
            );
        }
        assert_order_hidden(
            &cancel,
            id,
            &format!("Grace's POST {path}/cancel (not hers)"),
        );
    }
}

#[tokio::test]
async fn cancelling_an_order_is_for_its_owner_and_admins_only() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let ada = fixture.token(ADA, Role::Customer);
    let grace = fixture.token(GRACE, Role::Customer);
    let linus = fixture.token(LINUS, Role::Admin);

    let anonymous = server.post("/orders/1/cancel").send().await;
    assert_unauthorized(&anonymous, "POST /orders/1/cancel without a token");
    let other = server
        .post("/orders/1/cancel")
        .header("authorization", &grace)
        .send()
        .await;
    assert_order_hidden(&other, 1, "Grace's POST /orders/1/cancel (Ada's order)");
    if fixture.order_status(1) != "pending" || fixture.stock(7) != 12 {
        other.fail_with_diagnosis(
            &format!(
                "Grace's refused cancel of Ada's order left it {} with {} mugs in stock, \
                 expected pending with 12",
                fixture.order_status(1),
                fixture.stock(7)
            ),
            "The ownership check must come before the change, in the same query or \
             transaction, not after it.",
        );
    }

    let owner = server
        .post("/orders/1/cancel")
        .header("authorization", &ada)
        .send()
        .await;
    owner
        .assert_status(200)
        .assert_json(&order_json(1, "cancelled"));
    if fixture.order_status(1) != "cancelled" || fixture.stock(7) != 14 {
        owner.fail(&format!(
            "Ada's cancel of her order left it {} with {} mugs in stock, expected cancelled \
             with 14 (12 and her 2 back)",
            fixture.order_status(1),
            fixture.stock(7)
        ));
    }
    let paid = server
        .post("/orders/3/cancel")
        .header("authorization", &ada)
        .send()
        .await;
    paid.assert_status(409)
        .assert_content_type("application/problem+json")
        .assert_json(&json!({
            "type": "about:blank", "title": "Not pending", "status": 409,
            "detail": "Order 3 is paid: only a pending order can be cancelled.",
        }));
    if fixture.order_status(3) != "paid" {
        paid.fail("a refused cancel of a paid order changed its status");
    }

    let admin = server
        .post("/orders/2/cancel")
        .header("authorization", &linus)
        .send()
        .await;
    if admin.status() != 200 {
        admin.fail_with_diagnosis(
            &format!(
                "an admin's POST /orders/2/cancel (Grace's order) got {}, expected 200 OK",
                status_text(admin.status())
            ),
            "Admins may cancel any pending order: whoever may see an order may cancel it.",
        );
    }
    admin.assert_json(&order_json(2, "cancelled"));
    if fixture.order_status(2) != "cancelled" || fixture.stock(8) != 6 {
        admin.fail(&format!(
            "an admin's cancel of Grace's order left it {} with {} teas in stock, expected \
             cancelled with 6",
            fixture.order_status(2),
            fixture.stock(8)
        ));
    }
}

#[tokio::test]
async fn the_order_list_holds_exactly_the_callers_own_orders() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    let anonymous = server.get("/orders").send().await;
    assert_unauthorized(&anonymous, "GET /orders without a token");
    for (customer, name, role, expected) in [
        (
            ADA,
            "Ada",
            Role::Customer,
            json!([order_json(1, "pending"), order_json(3, "paid")]),
        ),
        (
            GRACE,
            "Grace",
            Role::Customer,
            json!([order_json(2, "pending"), order_json(5, "shipped")]),
        ),
        (
            LINUS,
            "Linus",
            Role::Admin,
            json!([order_json(4, "pending")]),
        ),
        (MARGARET, "Margaret", Role::Customer, json!([])),
    ] {
        let reply = server
            .get("/orders")
            .header("authorization", &fixture.token(customer, role))
            .send()
            .await;
        reply.assert_status(200);
        let got = reply.json();
        if got != expected {
            let ids = |list: &Value| -> Vec<i64> {
                list.as_array()
                    .map(|orders| {
                        orders
                            .iter()
                            .filter_map(|order| order["id"].as_i64())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            reply.fail_with_diagnosis(
                &format!(
                    "{name}'s GET /orders listed the orders {:?}, expected exactly {:?}",
                    ids(&got),
                    ids(&expected)
                ),
                "GET /orders is the caller's own orders, by id: an admin's too (every order \
                 is GET /admin/orders).",
            );
        }
    }
}

#[tokio::test]
async fn the_order_list_filters_in_the_query_before_the_limit() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    // 120 orders of Ada's come first, then three more of Grace's.
    for _ in 0..120 {
        fixture.add_order(ADA, "pending", 8, 1);
    }
    let later: Vec<i64> = (0..3)
        .map(|_| fixture.add_order(GRACE, "pending", 8, 1))
        .collect();
    let grace = fixture.token(GRACE, Role::Customer);
    let ids = |reply: &Reply| -> Vec<i64> {
        match reply.json().as_array() {
            Some(orders) => orders
                .iter()
                .map(|order| order["id"].as_i64().unwrap_or_default())
                .collect(),
            None => reply.fail("expected a JSON array of orders"),
        }
    };

    for (query, expected) in [
        ("", vec![2, 5, later[0], later[1], later[2]]),
        ("?limit=2", vec![2, 5]),
        ("?after=5&limit=2", vec![later[0], later[1]]),
        ("?after=5", later.clone()),
    ] {
        let reply = server
            .get(&format!("/orders{query}"))
            .header("authorization", &grace)
            .send()
            .await;
        reply.assert_status(200);
        let got = ids(&reply);
        if got != expected {
            reply.fail_with_diagnosis(
                &format!("Grace's GET /orders{query} listed {got:?}, expected {expected:?}"),
                "Her orders are 2, 5 and three after Ada's 120. A list that takes a page of \
                 everyone's orders (LIMIT) and keeps hers in Rust afterwards loses every order \
                 of hers beyond that page: the condition `customer_id = ?` belongs in the \
                 query, before ORDER BY and LIMIT.",
            );
        }
    }
    let ada = server
        .get("/orders")
        .header("authorization", &fixture.token(ADA, Role::Customer))
        .send()
        .await;
    let got = ids(&ada);
    let hers = got.len() == 100 && got.iter().all(|id| ![2, 5].contains(id) && *id < later[0]);
    if !hers || got[..2] != [1, 3] {
        ada.fail(&format!(
            "Ada's GET /orders listed {} orders ({:?}...), expected her first 100 (1, 3, then \
             120 more of hers)",
            got.len(),
            &got[..got.len().min(5)]
        ));
    }
}
