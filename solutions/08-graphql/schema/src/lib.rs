//! # graphql/schema — a schema over the shop
//!
//! The shop's first GraphQL endpoint: one URL, `/graphql`, and a typed
//! schema whose client chooses the fields it wants.
//!
//! ```graphql
//! type Query {
//!   products(search: String, first: Int! = 20): [Product!]!
//!   product(id: ID!): Product
//!   order(id: ID!): Order
//! }
//! type Product   { id: ID!  sku: String!  name: String!  priceCents: Int!  stock: Int! }
//! type Order     { id: ID!  status: OrderStatus!  totalCents: Int!  createdAt: String!
//!                  customer: Customer!  items: [OrderItem!]! }
//! enum OrderStatus { PENDING PAID SHIPPED CANCELLED }
//! type OrderItem { product: Product!  quantity: Int!  priceCents: Int! }
//! type Customer  { id: ID!  name: String!  email: String!  orders: [Order!]! }
//! ```
//!
//! The book's section "A schema over the shop" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, Error, ErrorExtensions, ID, Object, Schema,
};
use async_graphql_axum::GraphQL;
use axum::Router;
use axum::routing::get_service;
use rusqlite::{Connection, OptionalExtension, Row};

/// Creates the shop's tables, if they do not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id    INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name  TEXT NOT NULL
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
        ) STRICT;",
    )
}

/// Adds a customer; returns its id.
pub fn add_customer(db: &Connection, name: &str, email: &str) -> rusqlite::Result<i64> {
    db.query_row(
        "INSERT INTO customers (name, email) VALUES (?1, ?2) RETURNING id",
        (name, email),
        |row| row.get(0),
    )
}

/// Adds a product, made now; returns its id.
pub fn add_product(
    db: &Connection,
    sku: &str,
    name: &str,
    price_cents: i64,
    stock: i64,
) -> rusqlite::Result<i64> {
    db.query_row(
        "INSERT INTO products (sku, name, price_cents, stock, created_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
         RETURNING id",
        (sku, name, price_cents, stock),
        |row| row.get(0),
    )
}

/// Adds an order of `customer_id`, placed now, with this `status`
/// (`'pending'`, `'paid'`, `'shipped'` or `'cancelled'`) and these
/// `(product_id, quantity)` items, in this order. Each item is priced at its
/// product's price of the moment; the total is their sum. Returns its id.
pub fn add_order(
    db: &Connection,
    customer_id: i64,
    status: &str,
    items: &[(i64, i64)],
) -> rusqlite::Result<i64> {
    let order_id: i64 = db.query_row(
        "INSERT INTO orders (customer_id, status, total_cents, created_at)
         VALUES (?1, ?2, 0, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
         RETURNING id",
        (customer_id, status),
        |row| row.get(0),
    )?;
    for (product_id, quantity) in items {
        db.execute(
            "INSERT INTO order_items (order_id, product_id, quantity, price_cents)
             SELECT ?1, id, ?3, price_cents FROM products WHERE id = ?2",
            (order_id, product_id, quantity),
        )?;
    }
    db.execute(
        "UPDATE orders SET total_cents =
             (SELECT coalesce(sum(quantity * price_cents), 0) FROM order_items WHERE order_id = ?1)
         WHERE id = ?1",
        [order_id],
    )?;
    Ok(order_id)
}

/// A row of `products`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// The columns a [`Product`] is read from, in [`product_from_row`]'s order.
pub const PRODUCT_COLUMNS: &str = "id, sku, name, price_cents, stock";

pub fn product_from_row(row: &Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        id: row.get(0)?,
        sku: row.get(1)?,
        name: row.get(2)?,
        price_cents: row.get(3)?,
        stock: row.get(4)?,
    })
}

/// A row of `orders`. `status` is the text stored (`"paid"`), `created_at`
/// the RFC 3339 UTC text SQLite made (`"2026-11-30T09:15:00Z"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub status: String,
    pub total_cents: i64,
    pub created_at: String,
}

/// The columns an [`Order`] is read from, in [`order_from_row`]'s order.
pub const ORDER_COLUMNS: &str = "id, customer_id, status, total_cents, created_at";

pub fn order_from_row(row: &Row<'_>) -> rusqlite::Result<Order> {
    Ok(Order {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        status: row.get(2)?,
        total_cents: row.get(3)?,
        created_at: row.get(4)?,
    })
}

/// A row of `order_items`: `price_cents` is the price when ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub order_id: i64,
    pub product_id: i64,
    pub quantity: i64,
    pub price_cents: i64,
}

/// The columns an [`OrderItem`] is read from, in [`order_item_from_row`]'s order.
pub const ORDER_ITEM_COLUMNS: &str = "order_id, product_id, quantity, price_cents";

pub fn order_item_from_row(row: &Row<'_>) -> rusqlite::Result<OrderItem> {
    Ok(OrderItem {
        order_id: row.get(0)?,
        product_id: row.get(1)?,
        quantity: row.get(2)?,
        price_cents: row.get(3)?,
    })
}

/// A row of `customers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// The columns a [`Customer`] is read from, in [`customer_from_row`]'s order.
pub const CUSTOMER_COLUMNS: &str = "id, name, email";

pub fn customer_from_row(row: &Row<'_>) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
    })
}

/// The app's database: one connection, shared by every request. Cloning a
/// `Db` is cheap: the clones share the connection.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    pub fn new(connection: Connection) -> Db {
        Db(Arc::new(Mutex::new(connection)))
    }

    /// Runs `job` with the connection, on tokio's blocking threads (SQLite
    /// calls block, see `database/async-access`), and returns what it
    /// returns. A database error becomes a GraphQL error that tells the
    /// client nothing of the database: the message `internal error` with
    /// the code `INTERNAL_SERVER_ERROR`; its cause goes to the server's
    /// standard error.
    pub async fn call<T, F>(&self, job: F) -> async_graphql::Result<T>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let connection = Arc::clone(&self.0);
        let task = tokio::task::spawn_blocking(move || {
            let connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            job(&connection)
        });
        let done = task
            .await
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
        done.map_err(|error| {
            eprintln!("database error: {error}");
            Error::new("internal error").extend_with(|_, extensions| {
                extensions.set("code", "INTERNAL_SERVER_ERROR");
            })
        })
    }
}

/// The schema's type: its root query, no mutation, no subscription.
pub type ShopSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// The most `products(first:)` may ask for.
pub const MAX_FIRST: i32 = 100;

/// The error for a client's mistake: `message`, with the code
/// `BAD_USER_INPUT` in its extensions.
pub fn bad_user_input(message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, extensions| extensions.set("code", "BAD_USER_INPUT"))
}

/// The database id an `ID` names, or a `BAD_USER_INPUT` error.
fn parse_id(id: &ID) -> async_graphql::Result<i64> {
    id.parse::<i64>()
        .map_err(|_| bad_user_input(format!("{:?} is not an id", id.as_str())))
}

/// `text` as a LIKE pattern that matches it anywhere, `%` and `_` (and the
/// escape character itself) matched as written, with `ESCAPE '\'`.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

/// The root of every query.
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Products in id order, at most `first` of them (0 to 100); with a
    /// `search`, only those whose name contains it, ignoring ASCII case.
    async fn products(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        #[graphql(default = 20)] first: i32,
    ) -> async_graphql::Result<Vec<Product>> {
        if !(0..=MAX_FIRST).contains(&first) {
            return Err(bad_user_input(format!(
                "first must be between 0 and {MAX_FIRST}, got {first}"
            )));
        }
        let pattern = contains_pattern(search.as_deref().unwrap_or_default());
        ctx.data_unchecked::<Db>()
            .call(move |db| {
                let sql = format!(
                    "SELECT {PRODUCT_COLUMNS} FROM products
                     WHERE name LIKE ?1 ESCAPE '\\'
                     ORDER BY id LIMIT ?2"
                );
                let mut statement = db.prepare(&sql)?;
                let products = statement.query_map((pattern, first), product_from_row)?;
                products.collect()
            })
            .await
    }

    /// The product with this id; null if there is none.
    async fn product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Product>> {
        let id = parse_id(&id)?;
        ctx.data_unchecked::<Db>()
            .call(move |db| find_product(db, id))
            .await
    }

    /// The order with this id; null if there is none.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
        let id = parse_id(&id)?;
        ctx.data_unchecked::<Db>()
            .call(move |db| {
                let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1");
                db.query_row(&sql, [id], order_from_row).optional()
            })
            .await
    }
}

fn find_product(db: &Connection, id: i64) -> rusqlite::Result<Option<Product>> {
    let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?1");
    db.query_row(&sql, [id], product_from_row).optional()
}

#[Object]
impl Product {
    async fn id(&self) -> ID {
        ID::from(self.id)
    }

    async fn sku(&self) -> &str {
        &self.sku
    }

    async fn name(&self) -> &str {
        &self.name
    }

    /// The price in cents: 1250 is 12.50.
    async fn price_cents(&self) -> i64 {
        self.price_cents
    }

    async fn stock(&self) -> i64 {
        self.stock
    }
}

/// Where an order is: `'pending'` in the database is `PENDING` on the wire.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Cancelled,
}

impl OrderStatus {
    /// The status stored as `text`, if it is one.
    fn from_stored(text: &str) -> Option<OrderStatus> {
        match text {
            "pending" => Some(OrderStatus::Pending),
            "paid" => Some(OrderStatus::Paid),
            "shipped" => Some(OrderStatus::Shipped),
            "cancelled" => Some(OrderStatus::Cancelled),
            _ => None,
        }
    }
}

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID::from(self.id)
    }

    async fn status(&self) -> async_graphql::Result<OrderStatus> {
        // The table's CHECK allows no other text; if one appears all the
        // same, the client learns only that the server failed.
        OrderStatus::from_stored(&self.status).ok_or_else(|| {
            eprintln!("order {} has an unknown status {:?}", self.id, self.status);
            Error::new("internal error")
                .extend_with(|_, extensions| extensions.set("code", "INTERNAL_SERVER_ERROR"))
        })
    }

    async fn total_cents(&self) -> i64 {
        self.total_cents
    }

    /// When the order was placed, RFC 3339 UTC: `2026-11-30T09:15:00Z`.
    async fn created_at(&self) -> &str {
        &self.created_at
    }

    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
        let customer_id = self.customer_id;
        ctx.data_unchecked::<Db>()
            .call(move |db| {
                let sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ?1");
                db.query_row(&sql, [customer_id], customer_from_row)
            })
            .await
    }

    /// The items, in the order they were added to the order.
    async fn items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderItem>> {
        let order_id = self.id;
        ctx.data_unchecked::<Db>()
            .call(move |db| {
                let sql = format!(
                    "SELECT {ORDER_ITEM_COLUMNS} FROM order_items WHERE order_id = ?1 ORDER BY rowid"
                );
                let mut statement = db.prepare(&sql)?;
                let items = statement.query_map([order_id], order_item_from_row)?;
                items.collect()
            })
            .await
    }
}

#[Object]
impl OrderItem {
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Product> {
        let product_id = self.product_id;
        let product = ctx
            .data_unchecked::<Db>()
            .call(move |db| find_product(db, product_id))
            .await?;
        // The foreign key promises the product; its absence is our fault.
        product.ok_or_else(|| {
            Error::new("internal error")
                .extend_with(|_, extensions| extensions.set("code", "INTERNAL_SERVER_ERROR"))
        })
    }

    async fn quantity(&self) -> i64 {
        self.quantity
    }

    /// The price of one, in cents, when it was ordered.
    async fn price_cents(&self) -> i64 {
        self.price_cents
    }
}

#[Object]
impl Customer {
    async fn id(&self) -> ID {
        ID::from(self.id)
    }

    async fn name(&self) -> &str {
        &self.name
    }

    async fn email(&self) -> &str {
        &self.email
    }

    /// The customer's orders, in id order.
    async fn orders(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Order>> {
        let customer_id = self.id;
        ctx.data_unchecked::<Db>()
            .call(move |db| {
                let sql = format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE customer_id = ?1 ORDER BY id"
                );
                let mut statement = db.prepare(&sql)?;
                let orders = statement.query_map([customer_id], order_from_row)?;
                orders.collect()
            })
            .await
    }
}

/// The schema, with `db` for its resolvers to read.
pub fn schema(db: Db) -> ShopSchema {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .data(db)
        .finish()
}

/// The shop's GraphQL endpoint, `/graphql`: a query as a `POST` with a JSON
/// body `{"query": ..., "variables": ...}`, or as a `GET` with `?query=`
/// (and `&variables=`). Every other path is `404`.
pub fn app(db: Db) -> Router {
    let graphql = GraphQL::new(schema(db));
    Router::new().route(
        "/graphql",
        get_service(graphql.clone()).post_service(graphql),
    )
}
