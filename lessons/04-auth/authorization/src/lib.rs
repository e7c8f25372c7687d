//! # auth/authorization — Roles and ownership
//!
//! The shop knows who is calling (a signed bearer token, checked by the
//! given [`Caller`] extractor); now decide what they may do. Two rules,
//! enforced on every request:
//!
//! - **Roles.** The `/admin/...` routes are for admins only: an anonymous
//!   caller gets `401`, a customer `403`. The role is the one the database
//!   holds *now*, never the one written in the token when it was issued.
//! - **Ownership.** A customer reads, lists and cancels only their own
//!   orders; another customer's order is a `404`, exactly like an order that
//!   does not exist. An admin may read and cancel any order.
//!
//! The book's section "Roles and ownership" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path as UrlPath, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How long a token the shop issues stays valid, in seconds.
pub const TOKEN_LIFETIME: u64 = 3600;

/// The most orders one page of a list holds; also the default.
pub const MAX_PAGE: i64 = 100;

/// The shop: its SQLite file, with a connection of its own for every
/// request, and the key that signs and checks its tokens.
#[derive(Clone)]
pub struct Shop {
    path: PathBuf,
    keys: Arc<Keys>,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Shop {
    /// The shop on the SQLite file at `path`, created with the schema if
    /// needed, in WAL mode; its tokens are signed with `secret` (HS256).
    pub fn open(path: &Path, secret: &[u8]) -> rusqlite::Result<Shop> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        create_schema(&db)?;
        let keys = Keys {
            encoding: EncodingKey::from_secret(secret).expect("the secret is not empty"),
            decoding: DecodingKey::from_secret(secret).expect("the secret is not empty"),
        };
        Ok(Shop {
            path: path.to_path_buf(),
            keys: Arc::new(keys),
        })
    }

    /// A signed token (a JWT) carrying `claims`: what the shop's login
    /// hands out (lesson 04's `tokens` exercise writes that part).
    pub fn token(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.keys.encoding)
            .expect("HS256 signs any claims")
    }

    /// A token for `customer_id`, issued now with `role`, valid for
    /// [`TOKEN_LIFETIME`].
    pub fn issue_token(&self, customer_id: i64, role: Role) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_secs();
        self.token(&Claims {
            sub: customer_id.to_string(),
            role: role.as_str().to_string(),
            iat: now,
            exp: now + TOKEN_LIFETIME,
        })
    }

    /// A new connection to the shop's file: foreign keys on, and waiting up
    /// to 10 seconds for another connection's lock.
    fn connect(&self) -> rusqlite::Result<Connection> {
        let db = Connection::open(&self.path)?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.busy_timeout(Duration::from_secs(10))?;
        Ok(db)
    }

    /// Runs `job` on a new connection, on tokio's blocking threads.
    async fn run<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let shop = self.clone();
        let task = tokio::task::spawn_blocking(move || job(&mut shop.connect()?));
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

/// What a token says: whose it is (`sub`, the customer's id as text), the
/// role the customer had when it was issued, and when it was issued and
/// expires (Unix seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    pub iat: u64,
    pub exp: u64,
}

/// The two roles of the shop's `customers.role` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    /// The role as the database writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
        }
    }

    /// The role a `customers.role` value stands for. Anything but `admin`
    /// is a customer: a role nobody has thought of grants nothing.
    pub fn from_db(text: &str) -> Role {
        match text {
            "admin" => Role::Admin,
            _ => Role::Customer,
        }
    }
}

/// Whoever holds a valid token: a signature by the shop's key, not
/// expired. Extracting a `Caller` answers [`unauthorized`]'s `401` to a
/// request without one. It proves who is calling, nothing more: the
/// `claims.role` inside it is the role as it was when the token was issued.
#[derive(Debug, Clone)]
pub struct Caller {
    pub customer_id: i64,
    pub claims: Claims,
}

impl FromRequestParts<Shop> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shop: &Shop) -> Result<Caller, Response> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(unauthorized)?;
        let validation = Validation::new(Algorithm::HS256);
        let claims = jsonwebtoken::decode::<Claims>(token, &shop.keys.decoding, &validation)
            .map_err(|_| unauthorized())?
            .claims;
        let customer_id = claims.sub.parse().map_err(|_| unauthorized())?;
        Ok(Caller {
            customer_id,
            claims,
        })
    }
}

/// Who is asking, as the database says now: a customer of the shop and the
/// role the `customers` table gives them at this moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Viewer {
    pub customer_id: i64,
    pub role: Role,
}

impl FromRequestParts<Shop> for Viewer {
    type Rejection = Response;

    /// The caller's customer and role, read from the database on every
    /// request. A request without a valid token gets [`unauthorized`]'s
    /// `401`; so does a valid token whose customer is no longer in the
    /// database. A database error is [`internal_error`]'s `500`.
    async fn from_request_parts(parts: &mut Parts, shop: &Shop) -> Result<Viewer, Response> {
        let caller = Caller::from_request_parts(parts, shop).await?;
        // TODO: the caller's customer with the role the database gives them
        // at this moment; a caller whose customer is not in the database is
        // refused like a request without a token.
        let _ = (caller, Role::from_db, internal_error);
        todo!()
    }
}

/// A [`Viewer`] whose role is admin. Extracting it answers `401` like a
/// `Viewer` does, and [`forbidden`]'s `403` to any other role.
#[derive(Debug, Clone, PartialEq)]
pub struct Admin(pub Viewer);

impl FromRequestParts<Shop> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shop: &Shop) -> Result<Admin, Response> {
        // TODO: let an admin through; refuse everyone else: a caller the
        // shop does not know as a `Viewer` is refused, any other role with
        // the 403.
        let _ = (parts, shop, forbidden);
        todo!()
    }
}

/// Order `id`, if `viewer` may see it: a customer sees their own orders
/// only, an admin sees every order. An order `viewer` may not see is `None`,
/// exactly like an order that does not exist.
pub fn find_order(db: &Connection, viewer: &Viewer, id: i64) -> rusqlite::Result<Option<Order>> {
    // TODO: the order, if it exists and `viewer` may see it; `None` for an
    // order that does not exist and for one that is not `viewer`'s to see,
    // the two alike.
    let _ = (db, viewer, id);
    todo!()
}

/// `viewer`'s own orders (an admin's too: their own), by id, those after
/// order `after` only, at most `limit` of them.
pub fn list_orders(
    db: &Connection,
    viewer: &Viewer,
    after: i64,
    limit: i64,
) -> rusqlite::Result<Vec<Order>> {
    // TODO: the page of `viewer`'s own orders: after `after`, at most
    // `limit`, by id. A page holds `limit` of them whenever they have that
    // many, however many orders other customers have.
    let _ = (db, viewer, after, limit);
    todo!()
}

/// What became of a cancel.
#[derive(Debug, PartialEq)]
pub enum Cancel {
    /// The order is cancelled now, its items back in stock.
    Cancelled(Order),
    /// There is no order `id` that the viewer may see.
    NotFound,
    /// The order is not pending (it is `paid`, `shipped` or `cancelled`):
    /// nothing changed.
    NotPending(String),
}

/// Cancels order `id` for `viewer` inside `tx` (which holds the write
/// lock): a customer cancels their own orders only, an admin any order.
/// Only a pending order can be cancelled; [`restock`] puts its items back.
/// An order `viewer` may not see is [`Cancel::NotFound`], whatever its
/// status, and stays as it was.
pub fn cancel_order(tx: &Transaction, viewer: &Viewer, id: i64) -> rusqlite::Result<Cancel> {
    // TODO: cancel the order if `viewer` may see it and it is pending (its
    // items back in stock). An order that is not `viewer`'s to see is
    // `NotFound` and unchanged, whatever its status: nothing in the answer
    // may tell it apart from an order that does not exist.
    let _ = (tx, viewer, id, restock);
    todo!()
}

/// Creates the shop's tables, if they do not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id            INTEGER PRIMARY KEY,
            email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name          TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            role          TEXT NOT NULL DEFAULT 'customer'
                          CHECK (role IN ('customer', 'admin'))
        ) STRICT;
        CREATE TABLE IF NOT EXISTS products (
            id          INTEGER PRIMARY KEY,
            sku         TEXT NOT NULL UNIQUE,
            name        TEXT NOT NULL,
            price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
            stock       INTEGER NOT NULL CHECK (stock >= 0),
            version     INTEGER NOT NULL DEFAULT 1,
            created_at  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS orders (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id),
            status      TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
            total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
            created_at  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS order_items (
            order_id    INTEGER NOT NULL REFERENCES orders (id),
            product_id  INTEGER NOT NULL REFERENCES products (id),
            quantity    INTEGER NOT NULL CHECK (quantity > 0),
            price_cents INTEGER NOT NULL,
            PRIMARY KEY (order_id, product_id)
        ) STRICT;
        ",
    )
}

/// A product, as sent.
#[derive(Debug, Serialize, PartialEq)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// The body of `POST /admin/products` and `PUT /admin/products/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// An order, as sent.
#[derive(Debug, Serialize, PartialEq)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub status: String,
    pub items: Vec<Item>,
    pub total_cents: i64,
    pub created_at: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Item {
    pub product_id: i64,
    pub quantity: i64,
    pub price_cents: i64,
}

/// Order `id` with its items, if there is one, whoever it belongs to.
pub fn load_order(db: &Connection, id: i64) -> rusqlite::Result<Option<Order>> {
    let order = db
        .query_row(
            "SELECT customer_id, status, total_cents, created_at FROM orders WHERE id = ?1",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()?;
    let Some((customer_id, status, total_cents, created_at)) = order else {
        return Ok(None);
    };
    let mut statement = db.prepare(
        "SELECT product_id, quantity, price_cents FROM order_items
         WHERE order_id = ?1 ORDER BY product_id",
    )?;
    let items = statement
        .query_map([id], |row| {
            Ok(Item {
                product_id: row.get(0)?,
                quantity: row.get(1)?,
                price_cents: row.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(Order {
        id,
        customer_id,
        status,
        items,
        total_cents,
        created_at,
    }))
}

/// The orders `ids`, in that order (ids with no order are left out).
pub fn load_orders(db: &Connection, ids: &[i64]) -> rusqlite::Result<Vec<Order>> {
    let mut orders = Vec::with_capacity(ids.len());
    for &id in ids {
        orders.extend(load_order(db, id)?);
    }
    Ok(orders)
}

/// Puts the items of order `id` back in stock.
pub fn restock(tx: &Transaction, id: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE products SET stock = stock + items.quantity, version = version + 1
         FROM (SELECT product_id, quantity FROM order_items WHERE order_id = ?1) AS items
         WHERE products.id = items.product_id",
        [id],
    )?;
    Ok(())
}

/// The shop's API:
///
/// | request                       | who               | answer                           |
/// | ----------------------------- | ----------------- | -------------------------------- |
/// | `GET /orders`                 | any customer      | `200`, the caller's own orders   |
/// | `GET /orders/{id}`            | owner or admin    | `200`, the order                 |
/// | `POST /orders/{id}/cancel`    | owner or admin    | `200`, the cancelled order       |
/// | `GET /admin/orders`           | admin             | `200`, every order               |
/// | `POST /admin/products`        | admin             | `201`, the product, `Location`   |
/// | `PUT /admin/products/{id}`    | admin             | `200`, the product               |
/// | `DELETE /admin/products/{id}` | admin             | `204`                            |
///
/// Lists take `?after=ID&limit=N` (orders after id `ID`, at most `N`,
/// [`MAX_PAGE`] by default and at most). Every route needs a bearer token:
/// `401` without a valid one, `403` for a customer on an admin route, `404`
/// for an order the caller may not see.
pub fn app(shop: Shop) -> Router {
    Router::new()
        .route("/orders", get(get_orders))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/cancel", post(post_cancel))
        .route("/admin/orders", get(get_all_orders))
        .route("/admin/products", post(post_product))
        .route(
            "/admin/products/{id}",
            put(put_product).delete(delete_product),
        )
        .with_state(shop)
}

/// The query of a list: `?after=ID&limit=N`.
#[derive(Debug, Deserialize)]
pub struct Page {
    after: Option<i64>,
    limit: Option<i64>,
}

impl Page {
    fn after(&self) -> i64 {
        self.after.unwrap_or(0)
    }

    fn limit(&self) -> i64 {
        self.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE)
    }
}

async fn get_orders(
    State(shop): State<Shop>,
    viewer: Viewer,
    Query(page): Query<Page>,
) -> Response {
    let (after, limit) = (page.after(), page.limit());
    match shop
        .run(move |db| list_orders(db, &viewer, after, limit))
        .await
    {
        Ok(orders) => Json(orders).into_response(),
        Err(error) => internal_error(&error),
    }
}

async fn get_order(
    State(shop): State<Shop>,
    viewer: Viewer,
    UrlPath(id): UrlPath<i64>,
) -> Response {
    match shop.run(move |db| find_order(db, &viewer, id)).await {
        Ok(Some(order)) => Json(order).into_response(),
        Ok(None) => order_not_found(id),
        Err(error) => internal_error(&error),
    }
}

async fn post_cancel(
    State(shop): State<Shop>,
    viewer: Viewer,
    UrlPath(id): UrlPath<i64>,
) -> Response {
    let outcome = shop
        .run(move |db| {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let outcome = cancel_order(&tx, &viewer, id)?;
            tx.commit()?;
            Ok(outcome)
        })
        .await;
    match outcome {
        Ok(Cancel::Cancelled(order)) => Json(order).into_response(),
        Ok(Cancel::NotFound) => order_not_found(id),
        Ok(Cancel::NotPending(status)) => problem(
            StatusCode::CONFLICT,
            "Not pending",
            &format!("Order {id} is {status}: only a pending order can be cancelled."),
        ),
        Err(error) => internal_error(&error),
    }
}

async fn get_all_orders(
    State(shop): State<Shop>,
    _admin: Admin,
    Query(page): Query<Page>,
) -> Response {
    let (after, limit) = (page.after(), page.limit());
    let orders = shop
        .run(move |db| {
            let mut statement =
                db.prepare("SELECT id FROM orders WHERE id > ?1 ORDER BY id LIMIT ?2")?;
            let ids = statement
                .query_map(params![after, limit], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            load_orders(db, &ids)
        })
        .await;
    match orders {
        Ok(orders) => Json(orders).into_response(),
        Err(error) => internal_error(&error),
    }
}

async fn post_product(
    State(shop): State<Shop>,
    _admin: Admin,
    body: Result<Json<NewProduct>, JsonRejection>,
) -> Response {
    let new = match checked(body) {
        Ok(new) => new,
        Err(refusal) => return refusal,
    };
    let created = shop
        .run(move |db| {
            db.query_row(
                "INSERT INTO products (sku, name, price_cents, stock, created_at)
                 VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                 RETURNING id",
                params![new.sku, new.name, new.price_cents, new.stock],
                |row| row.get(0),
            )
            .map(|id| product_of(id, new))
        })
        .await;
    match created {
        Ok(product) => {
            let location = format!("/admin/products/{}", product.id);
            let mut response = (StatusCode::CREATED, Json(product)).into_response();
            if let Ok(location) = HeaderValue::from_str(&location) {
                response.headers_mut().insert("location", location);
            }
            response
        }
        Err(error) if is_constraint(&error) => sku_taken(),
        Err(error) => internal_error(&error),
    }
}

async fn put_product(
    State(shop): State<Shop>,
    _admin: Admin,
    UrlPath(id): UrlPath<i64>,
    body: Result<Json<NewProduct>, JsonRejection>,
) -> Response {
    let new = match checked(body) {
        Ok(new) => new,
        Err(refusal) => return refusal,
    };
    let updated = shop
        .run(move |db| {
            let changed = db.execute(
                "UPDATE products SET sku = ?2, name = ?3, price_cents = ?4, stock = ?5,
                     version = version + 1
                 WHERE id = ?1",
                params![id, new.sku, new.name, new.price_cents, new.stock],
            )?;
            Ok((changed == 1).then(|| product_of(id, new)))
        })
        .await;
    match updated {
        Ok(Some(product)) => Json(product).into_response(),
        Ok(None) => product_not_found(id),
        Err(error) if is_constraint(&error) => sku_taken(),
        Err(error) => internal_error(&error),
    }
}

async fn delete_product(
    State(shop): State<Shop>,
    _admin: Admin,
    UrlPath(id): UrlPath<i64>,
) -> Response {
    let deleted = shop
        .run(move |db| db.execute("DELETE FROM products WHERE id = ?1", [id]))
        .await;
    match deleted {
        Ok(1) => StatusCode::NO_CONTENT.into_response(),
        Ok(_) => product_not_found(id),
        Err(error) if is_constraint(&error) => problem(
            StatusCode::CONFLICT,
            "Product is ordered",
            &format!("Product {id} is in an order: it cannot be deleted."),
        ),
        Err(error) => internal_error(&error),
    }
}

fn product_of(id: i64, new: NewProduct) -> Product {
    Product {
        id,
        sku: new.sku,
        name: new.name,
        price_cents: new.price_cents,
        stock: new.stock,
    }
}

/// A product body that parses and keeps the shop's rules, or the `422` (or
/// `400`, `415`) that refuses it.
#[allow(clippy::result_large_err)]
fn checked(body: Result<Json<NewProduct>, JsonRejection>) -> Result<NewProduct, Response> {
    let Json(new) = body
        .map_err(|rejection| problem(rejection.status(), "Invalid body", &rejection.body_text()))?;
    if new.sku.trim().is_empty() || new.name.trim().is_empty() {
        let detail = "A product needs a sku and a name.";
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid product",
            detail,
        ));
    }
    if new.price_cents < 0 || new.stock < 0 {
        let detail = "A price and a stock are never negative.";
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid product",
            detail,
        ));
    }
    Ok(new)
}

fn is_constraint(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

fn sku_taken() -> Response {
    let detail = "Another product has this sku.";
    problem(StatusCode::CONFLICT, "Duplicate sku", detail)
}

/// `401`: `{"type": "about:blank", "title": "Unauthorized", "status": 401,
/// "detail": "This needs a valid bearer token."}`, with
/// `WWW-Authenticate: Bearer`.
pub fn unauthorized() -> Response {
    let detail = "This needs a valid bearer token.";
    let mut response = problem(StatusCode::UNAUTHORIZED, "Unauthorized", detail);
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// `403`: `{"type": "about:blank", "title": "Forbidden", "status": 403,
/// "detail": "Only an admin may do this."}`
pub fn forbidden() -> Response {
    let detail = "Only an admin may do this.";
    problem(StatusCode::FORBIDDEN, "Forbidden", detail)
}

/// `404`: `{"type": "about:blank", "title": "Not found", "status": 404,
/// "detail": "There is no order 7."}`
pub fn order_not_found(id: i64) -> Response {
    let detail = format!("There is no order {id}.");
    problem(StatusCode::NOT_FOUND, "Not found", &detail)
}

/// `404`: `{"type": "about:blank", "title": "Not found", "status": 404,
/// "detail": "There is no product 7."}`
pub fn product_not_found(id: i64) -> Response {
    let detail = format!("There is no product {id}.");
    problem(StatusCode::NOT_FOUND, "Not found", &detail)
}

/// An `application/problem+json` response (RFC 9457).
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({ "type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// A database error: logged, and answered with a `500` that tells nothing.
pub fn internal_error(error: &rusqlite::Error) -> Response {
    tracing::error!(%error, "database error");
    let detail = "Something went wrong on our side. Please try again.";
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        detail,
    )
}
