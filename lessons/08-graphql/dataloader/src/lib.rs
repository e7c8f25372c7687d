//! # graphql/dataloader — orders with their items, products and customers, in a fixed number of statements
//!
//! The shop's orders over GraphQL, where every field resolves on its own:
//!
//! ```graphql
//! type Query {
//!   orders: [Order!]!
//!   order(id: ID!): Order
//! }
//! type Order     { id: ID!  status: OrderStatus!  totalCents: Int!  createdAt: String!
//!                  customer: Customer!  items: [OrderItem!]! }
//! enum OrderStatus { PENDING PAID SHIPPED CANCELLED }
//! type OrderItem { product: Product!  quantity: Int!  priceCents: Int! }
//! type Product   { id: ID!  sku: String!  name: String!  priceCents: Int!  stock: Int! }
//! type Customer  { id: ID!  name: String!  email: String! }
//! ```
//!
//! Asked for fifty orders with their items, their products and their
//! customers, resolvers that each read their own rows run one statement for
//! the orders, then one per order for its items, one per item for its
//! product, one per order for its customer: the N+1 problem, made by the
//! shape of the resolvers. Yours load through DataLoaders, which gather the
//! keys every resolver of one level asks for and read them in one statement:
//! a handful of statements, however many orders there are. The tests count
//! every statement the app runs.
//! The book's section "Batching with a DataLoader" explains every piece you
//! need.
//!
//! Run `cargo checker check` when you think you are done.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::dataloader::Loader;
use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, Error, ErrorExtensions, ID, Object, Request,
    Schema,
};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use rusqlite::{Connection, OptionalExtension, Row};

/// Creates the shop's tables, if they do not exist yet, and makes SQLite
/// enforce their foreign keys on this connection: an item's product and an
/// order's customer then always exist, which is what lets the schema promise
/// `product: Product!` and `customer: Customer!`.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "PRAGMA foreign_keys = ON;
        CREATE TABLE IF NOT EXISTS customers (
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
        CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id);
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
    /// returns. A database error becomes [`internal_error`]: the client
    /// learns nothing of the database; the cause goes to standard error.
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
            internal_error()
        })
    }
}

/// The error of a failure that is the server's, not the client's: the
/// message `internal error` with the code `INTERNAL_SERVER_ERROR`.
pub fn internal_error() -> Error {
    Error::new("internal error")
        .extend_with(|_, extensions| extensions.set("code", "INTERNAL_SERVER_ERROR"))
}

/// Loads the items of many orders at once: for each order id asked, its
/// items in the order they were added to the order (empty if it has none).
pub struct ItemsByOrder(pub Db);

impl Loader<i64> for ItemsByOrder {
    type Value = Vec<OrderItem>;
    type Error = Error;

    async fn load(&self, order_ids: &[i64]) -> Result<HashMap<i64, Vec<OrderItem>>, Error> {
        // TODO: read the items of every order in `order_ids` with one
        // statement, and answer each order id with its items, in the order
        // they were added to the order (an empty list for an order without
        // any).
        let _ = (&self.0, order_ids);
        Ok(HashMap::new())
    }
}

/// Loads many products at once, by id.
pub struct ProductsById(pub Db);

impl Loader<i64> for ProductsById {
    type Value = Product;
    type Error = Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Product>, Error> {
        // TODO: read every product in `ids` with one statement, and answer
        // each id with its product.
        let _ = (&self.0, ids);
        Ok(HashMap::new())
    }
}

/// Loads many customers at once, by id.
pub struct CustomersById(pub Db);

impl Loader<i64> for CustomersById {
    type Value = Customer;
    type Error = Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Customer>, Error> {
        // TODO: read every customer in `ids` with one statement, and answer
        // each id with its customer.
        let _ = (&self.0, ids);
        Ok(HashMap::new())
    }
}

/// `request`, with the data its resolvers read through while it runs.
///
/// Each request has loaders of its own, made for it and dropped with it: a
/// request reads the database as it is then, never what an earlier request
/// saw.
pub fn with_loaders(request: Request, db: &Db) -> Request {
    // TODO: give the request a loader of items, one of products and one of
    // customers, made for this request alone.
    let _ = db;
    request
}

/// The schema's type: its root query, no mutation, no subscription.
pub type ShopSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// An error the client caused: `message`, with the code `BAD_USER_INPUT`.
fn bad_user_input(message: String) -> Error {
    Error::new(message).extend_with(|_, extensions| extensions.set("code", "BAD_USER_INPUT"))
}

/// The database id an `ID` names, or a `BAD_USER_INPUT` error.
fn parse_id(id: &ID) -> async_graphql::Result<i64> {
    id.parse::<i64>()
        .map_err(|_| bad_user_input(format!("{:?} is not an id", id.as_str())))
}

/// The root of every query.
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Every order, in id order.
    async fn orders(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Order>> {
        ctx.data_unchecked::<Db>()
            .call(|db| {
                let sql = format!("SELECT {ORDER_COLUMNS} FROM orders ORDER BY id");
                let mut statement = db.prepare(&sql)?;
                let orders = statement.query_map([], order_from_row)?;
                orders.collect()
            })
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

    /// The price of one, in cents.
    async fn price_cents(&self) -> i64 {
        self.price_cents
    }

    async fn stock(&self) -> i64 {
        self.stock
    }
}

/// Where an order stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Cancelled,
}

impl OrderStatus {
    /// The status stored as `text` in `orders.status`.
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
        OrderStatus::from_stored(&self.status).ok_or_else(|| {
            eprintln!("order {} has an unknown status {:?}", self.id, self.status);
            internal_error()
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
        // TODO: this reads one customer per order: get the customer from the
        // request's loader of customers instead, so that the customers of all
        // the orders in an answer are read together.
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
        // TODO: this reads the items of one order at a time: get them from
        // the request's loader of items instead.
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
        // TODO: this reads one product per item: get it from the request's
        // loader of products instead.
        let product_id = self.product_id;
        let product = ctx
            .data_unchecked::<Db>()
            .call(move |db| {
                let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?1");
                db.query_row(&sql, [product_id], product_from_row)
                    .optional()
            })
            .await?;
        // The foreign key promises the product: its absence is our fault.
        product.ok_or_else(internal_error)
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
}

/// The schema, with `db` for its resolvers to read.
pub fn schema(db: Db) -> ShopSchema {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .data(db)
        .finish()
}

/// What every request is served with.
#[derive(Clone)]
struct Shop {
    schema: ShopSchema,
    db: Db,
}

/// The shop's GraphQL endpoint, `/graphql`: a query as a `POST` with a JSON
/// body `{"query": ..., "variables": ...}`, or as a `GET` with `?query=`.
/// Every other path is `404`.
pub fn app(db: Db) -> Router {
    let shop = Shop {
        schema: schema(db.clone()),
        db,
    };
    Router::new()
        .route("/graphql", get(graphql).post(graphql))
        .with_state(shop)
}

async fn graphql(State(shop): State<Shop>, request: GraphQLRequest) -> GraphQLResponse {
    let request = with_loaders(request.into_inner(), &shop.db);
    shop.schema.execute(request).await.into()
}
