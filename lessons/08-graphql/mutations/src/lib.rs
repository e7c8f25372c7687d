//! # graphql/mutations — mutations and errors
//!
//! The shop's GraphQL API learns to change things: `createProduct` adds a
//! product, `placeOrder` takes stock and records an order, in one
//! transaction. Every refusal is an entry of the response's `errors`, in
//! GraphQL's format, with the mutation's `path` and an `extensions` object
//! that says, to a program, what went wrong (`code`) and where in the input
//! (`field`). A failing database is an "internal error" and nothing more:
//! its details go to the log, never to the client.
//! The book's section "Mutations and errors" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::{
    Context, EmptySubscription, Enum, Error, ID, InputObject, Object, Schema, SimpleObject,
};
use async_graphql_axum::GraphQL;
use axum::Router;
use axum::routing::post_service;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row};

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

/// Stores a customer and returns their id (the tests and the example seed
/// the shop with it; the API has no mutation for customers).
pub fn insert_customer(db: &Connection, name: &str, email: &str) -> rusqlite::Result<i64> {
    db.query_row(
        "INSERT INTO customers (name, email) VALUES (?1, ?2) RETURNING id",
        (name, email),
        |row| row.get(0),
    )
}

/// A product, as the graph shows it.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct Product {
    pub id: ID,
    pub sku: String,
    pub name: String,
    pub price_cents: i32,
    pub stock: i32,
}

/// The columns a [`Product`] is read from, in [`product_from_row`]'s order.
const PRODUCT_COLUMNS: &str = "id, sku, name, price_cents, stock";

fn product_from_row(row: &Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        id: ID::from(row.get::<_, i64>(0)?),
        sku: row.get(1)?,
        name: row.get(2)?,
        price_cents: row.get(3)?,
        stock: row.get(4)?,
    })
}

/// The input of `createProduct`:
/// `input NewProduct { sku: String!  name: String!  priceCents: Int!  stock: Int! }`.
/// GraphQL checks the types (a missing field, a string for an `Int`) before
/// any resolver runs; the rules on the values are [`validate_new_product`]'s.
#[derive(Debug, Clone, InputObject)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub price_cents: i32,
    pub stock: i32,
}

/// Stores a new product, as it is, and returns it with its id. A `sku` that
/// another product has fails with SQLite's UNIQUE constraint error (see
/// [`is_unique_violation`]).
pub fn insert_product(db: &Connection, new: &NewProduct) -> rusqlite::Result<Product> {
    let sql = format!(
        "INSERT INTO products (sku, name, price_cents, stock, created_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
         RETURNING {PRODUCT_COLUMNS}"
    );
    db.query_row(
        &sql,
        (&new.sku, &new.name, new.price_cents, new.stock),
        product_from_row,
    )
}

/// The product with this id, if there is one.
pub fn find_product(db: &Connection, id: i64) -> rusqlite::Result<Option<Product>> {
    let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?1");
    db.query_row(&sql, [id], product_from_row).optional()
}

/// Takes `quantity` from the product's stock. It checks nothing: taking
/// more than there is fails with SQLite's CHECK constraint error.
pub fn take_stock(db: &Connection, product_id: i64, quantity: i32) -> rusqlite::Result<()> {
    db.execute(
        "UPDATE products SET stock = stock - ?2, version = version + 1 WHERE id = ?1",
        (product_id, quantity),
    )?;
    Ok(())
}

/// Whether a customer has this id.
pub fn customer_exists(db: &Connection, id: i64) -> rusqlite::Result<bool> {
    db.query_row(
        "SELECT EXISTS (SELECT 1 FROM customers WHERE id = ?1)",
        [id],
        |row| row.get(0),
    )
}

/// Stores a new `pending` order and returns its id.
pub fn insert_order(db: &Connection, customer_id: i64, total_cents: i64) -> rusqlite::Result<i64> {
    db.query_row(
        "INSERT INTO orders (customer_id, total_cents, created_at)
         VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
         RETURNING id",
        (customer_id, total_cents),
        |row| row.get(0),
    )
}

/// Stores one line of an order, at the price the product has now.
pub fn insert_order_item(
    db: &Connection,
    order_id: i64,
    product_id: i64,
    quantity: i32,
    price_cents: i32,
) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO order_items (order_id, product_id, quantity, price_cents)
         VALUES (?1, ?2, ?3, ?4)",
        (order_id, product_id, quantity, price_cents),
    )?;
    Ok(())
}

/// Whether `error` is SQLite refusing a row because a `UNIQUE` column already
/// holds its value.
pub fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation
                && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// The app's database: one connection, shared by every request. Cloning a
/// `Db` is cheap: the clones share the connection.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    pub fn new(connection: Connection) -> Db {
        Db(Arc::new(Mutex::new(connection)))
    }

    /// Runs `job` with the connection, on tokio's blocking threads, and
    /// returns what it returns. The connection is `&mut`, so that `job` can
    /// start a transaction on it. A panic in `job` continues in the caller.
    pub async fn call<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let connection = Arc::clone(&self.0);
        let task = tokio::task::spawn_blocking(move || {
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            job(&mut connection)
        });
        task.await
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
    }
}

/// An order's status: `enum OrderStatus { PENDING PAID SHIPPED CANCELLED }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Cancelled,
}

impl OrderStatus {
    fn from_column(status: &str) -> rusqlite::Result<OrderStatus> {
        match status {
            "pending" => Ok(OrderStatus::Pending),
            "paid" => Ok(OrderStatus::Paid),
            "shipped" => Ok(OrderStatus::Shipped),
            "cancelled" => Ok(OrderStatus::Cancelled),
            _ => Err(rusqlite::Error::InvalidColumnType(
                0,
                "status".to_string(),
                rusqlite::types::Type::Text,
            )),
        }
    }
}

/// A customer: `type Customer { id: ID!  name: String!  email: String! }`.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct Customer {
    pub id: ID,
    pub name: String,
    pub email: String,
}

/// One line of an order, at the price the product had when it was ordered.
#[derive(Debug, Clone)]
pub struct OrderItem {
    product_id: i64,
    quantity: i32,
    price_cents: i32,
}

/// `type OrderItem { product: Product!  quantity: Int!  priceCents: Int! }`.
#[Object]
impl OrderItem {
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Product> {
        let id = self.product_id;
        let db = ctx.data_unchecked::<Db>();
        match db.call(move |db| find_product(db, id)).await {
            Ok(Some(product)) => Ok(product),
            Ok(None) => Err(internal_error(rusqlite::Error::QueryReturnedNoRows)),
            Err(error) => Err(internal_error(error)),
        }
    }

    async fn quantity(&self) -> i32 {
        self.quantity
    }

    async fn price_cents(&self) -> i32 {
        self.price_cents
    }
}

/// An order, as stored.
#[derive(Debug, Clone)]
pub struct Order {
    id: i64,
    customer_id: i64,
    status: OrderStatus,
    total_cents: i64,
    created_at: String,
}

/// The order with this id, if there is one.
pub fn find_order(db: &Connection, id: i64) -> rusqlite::Result<Option<Order>> {
    db.query_row(
        "SELECT id, customer_id, status, total_cents, created_at FROM orders WHERE id = ?1",
        [id],
        |row| {
            Ok(Order {
                id: row.get(0)?,
                customer_id: row.get(1)?,
                status: OrderStatus::from_column(&row.get::<_, String>(2)?)?,
                total_cents: row.get(3)?,
                created_at: row.get(4)?,
            })
        },
    )
    .optional()
}

/// `type Order { id: ID!  status: OrderStatus!  totalCents: Int!
/// createdAt: String!  customer: Customer!  items: [OrderItem!]! }`.
#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID::from(self.id)
    }

    async fn status(&self) -> OrderStatus {
        self.status
    }

    async fn total_cents(&self) -> async_graphql::Result<i32> {
        i32::try_from(self.total_cents).map_err(|_| {
            internal_error(rusqlite::Error::IntegralValueOutOfRange(
                3,
                self.total_cents,
            ))
        })
    }

    async fn created_at(&self) -> &str {
        &self.created_at
    }

    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
        let id = self.customer_id;
        let db = ctx.data_unchecked::<Db>();
        let found = db.call(move |db| {
            db.query_row(
                "SELECT id, name, email FROM customers WHERE id = ?1",
                [id],
                |row| {
                    Ok(Customer {
                        id: ID::from(row.get::<_, i64>(0)?),
                        name: row.get(1)?,
                        email: row.get(2)?,
                    })
                },
            )
        });
        found.await.map_err(internal_error)
    }

    async fn items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderItem>> {
        let id = self.id;
        let db = ctx.data_unchecked::<Db>();
        let items = db.call(move |db| {
            let mut statement = db.prepare(
                "SELECT product_id, quantity, price_cents FROM order_items
                 WHERE order_id = ?1 ORDER BY product_id",
            )?;
            let rows = statement.query_map([id], |row| {
                Ok(OrderItem {
                    product_id: row.get(0)?,
                    quantity: row.get(1)?,
                    price_cents: row.get(2)?,
                })
            })?;
            rows.collect()
        });
        items.await.map_err(internal_error)
    }
}

/// The most products one `products` query answers.
pub const PRODUCTS_MAX_FIRST: i32 = 100;

/// `type Query { products(first: Int! = 20): [Product!]!  product(id: ID!): Product
/// order(id: ID!): Order }`.
pub struct Query;

#[Object]
impl Query {
    /// The first `first` products (at most 100), in id order.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
    ) -> async_graphql::Result<Vec<Product>> {
        if !(0..=PRODUCTS_MAX_FIRST).contains(&first) {
            let message = format!("first must be between 0 and {PRODUCTS_MAX_FIRST}");
            return Err(Problem::new(Code::BadUserInput, "first", message).into());
        }
        let db = ctx.data_unchecked::<Db>();
        let products = db.call(move |db| {
            let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products ORDER BY id LIMIT ?1");
            let mut statement = db.prepare(&sql)?;
            let rows = statement.query_map([first], product_from_row)?;
            rows.collect()
        });
        products.await.map_err(internal_error)
    }

    /// The product with this id; `null` if there is none.
    async fn product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Product>> {
        let id = parse_id(&id, "id")?;
        let db = ctx.data_unchecked::<Db>();
        db.call(move |db| find_product(db, id))
            .await
            .map_err(internal_error)
    }

    /// The order with this id; `null` if there is none.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
        let id = parse_id(&id, "id")?;
        let db = ctx.data_unchecked::<Db>();
        db.call(move |db| find_order(db, id))
            .await
            .map_err(internal_error)
    }
}

/// What a refusal means, for a program: the `code` of an error's
/// `extensions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `BAD_USER_INPUT`: a value breaks a rule; the same request will never
    /// work.
    BadUserInput,
    /// `NOT_FOUND`: an id names nothing.
    NotFound,
    /// `CONFLICT`: the request clashes with what is stored (a taken sku).
    Conflict,
    /// `OUT_OF_STOCK`: a product has less stock than the order asks for.
    OutOfStock,
}

impl Code {
    /// The code as the wire shows it: `BAD_USER_INPUT`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::NotFound => "NOT_FOUND",
            Code::Conflict => "CONFLICT",
            Code::OutOfStock => "OUT_OF_STOCK",
        }
    }
}

/// One thing wrong with a request, found by the app: a broken rule, an id
/// that names nothing, a clash with what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: Code,
    /// Where in the mutation's arguments, in GraphQL's names, with the
    /// index of a list's element: `input.sku`, `input.items.1.quantity`.
    pub field: String,
    /// For a human: `sku must be ...`.
    pub message: String,
}

impl Problem {
    pub fn new(code: Code, field: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            code,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A [`Problem`] as a GraphQL error: `message` is the problem's message, and
/// `extensions` holds its code and field, so that the response shows
///
/// ```json
/// {"message": "sku must be ...", "locations": [{"line": 2, "column": 3}],
///  "path": ["createProduct"], "extensions": {"code": "BAD_USER_INPUT", "field": "input.sku"}}
/// ```
///
/// (async-graphql adds `locations` and `path` when a resolver returns it.)
impl From<Problem> for Error {
    fn from(problem: Problem) -> Error {
        // TODO: a client reads the problem's code and field too, in the
        // error's `extensions`, as the comment above shows.
        Error::new(problem.message)
    }
}

/// The exact message of the error a client gets when the database (or
/// anything else that is not the client's doing) fails.
pub const INTERNAL_MESSAGE: &str = "internal error";

/// The error a client gets when the database fails: the message
/// [`INTERNAL_MESSAGE`] and `extensions` `{"code": "INTERNAL_SERVER_ERROR"}`,
/// nothing else. What really happened goes to the server's log (standard
/// error).
pub fn internal_error(error: rusqlite::Error) -> Error {
    // TODO: the client must learn nothing of what failed (no SQL, no table,
    // no file, no SQLite code): only the message and the code the comment
    // above states. The cause goes to the log.
    Error::new(error.to_string())
}

/// Every problem in `problems` as an entry of the response's `errors`, each
/// with the `path` and `locations` of the field being resolved; returns the
/// one the resolver returns as its `Err` (async-graphql's `Result` holds one
/// error: the others are added beside it through `ctx`). `problems` must
/// not be empty.
pub fn all_of(ctx: &Context<'_>, mut problems: Vec<Problem>) -> Error {
    let Some(last) = problems.pop() else {
        return internal_error(rusqlite::Error::InvalidQuery);
    };
    for problem in problems {
        let error = Error::from(problem).into_server_error(ctx.item.pos);
        ctx.add_error(ctx.set_error_path(error));
    }
    Error::from(last)
}

/// The whole number an `ID` holds, or a `BAD_USER_INPUT` problem at `field`.
pub fn parse_id(id: &ID, field: &str) -> Result<i64, Problem> {
    id.parse().map_err(|_| {
        Problem::new(
            Code::BadUserInput,
            field,
            format!(
                "{field} must be the id of an object of the shop, got {:?}",
                id.as_str()
            ),
        )
    })
}

/// The longest `sku`, in characters.
pub const SKU_MAX_CHARS: usize = 32;
/// The longest `name`, in characters (not bytes: "Thé" is 3).
pub const NAME_MAX_CHARS: usize = 100;
/// The highest `priceCents`: 10 000.00.
pub const PRICE_MAX_CENTS: i32 = 1_000_000;
/// The highest `stock`.
pub const STOCK_MAX: i32 = 100_000;

/// Every rule of `createProduct`'s input that `input` breaks, each as a
/// `BAD_USER_INPUT` problem at its field, in this order:
///
/// | field              | rule                                                          |
/// | ------------------ | ------------------------------------------------------------- |
/// | `input.sku`        | 1 to 32 characters, matching `^[A-Z0-9]+(-[A-Z0-9]+)*$`       |
/// | `input.name`       | not blank (not only whitespace), at most 100 characters       |
/// | `input.priceCents` | 0 to 1 000 000                                                |
/// | `input.stock`      | 0 to 100 000                                                  |
///
/// A sku is capital letters A to Z and digits 0 to 9, in groups joined by
/// single hyphens: `MUG-RED`, `TEA-2`. A name's length is counted in
/// characters, not bytes ("Thé" is 3). An empty list means the input is
/// valid. A valid name is stored as it
/// is given, spaces and all.
pub fn validate_new_product(input: &NewProduct) -> Vec<Problem> {
    // TODO: one problem for each rule of the table above that `input`
    // breaks, none for a valid input.
    let _ = input;
    Vec::new()
}

/// One line of `placeOrder`'s input:
/// `input NewOrderItem { productId: ID!  quantity: Int! }`.
#[derive(Debug, Clone, InputObject)]
pub struct NewOrderItem {
    pub product_id: ID,
    pub quantity: i32,
}

/// The input of `placeOrder`:
/// `input PlaceOrder { customerId: ID!  items: [NewOrderItem!]! }`.
#[derive(Debug, Clone, InputObject)]
pub struct PlaceOrder {
    pub customer_id: ID,
    pub items: Vec<NewOrderItem>,
}

/// The most lines an order may have.
pub const ORDER_MAX_ITEMS: usize = 20;
/// The most of one product an order may ask for.
pub const QUANTITY_MAX: i32 = 100;

/// An order's input once its rules hold: ids as numbers, each product once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidOrder {
    pub customer_id: i64,
    /// `(product id, quantity)`, in the input's order.
    pub items: Vec<(i64, i32)>,
}

/// The order `input` asks for, or every rule it breaks, each as a
/// `BAD_USER_INPUT` problem at its field, in this order:
///
/// | field                      | rule                                                   |
/// | -------------------------- | ------------------------------------------------------ |
/// | `input.customerId`         | a whole number                                         |
/// | `input.items`              | 1 to 20 lines                                          |
/// | `input.items.N.productId`  | a whole number, and not a product an earlier line has  |
/// | `input.items.N.quantity`   | 1 to 100                                               |
///
/// (`N` counts from 0; a line's two fields are checked in this order.)
pub fn validate_order(input: &PlaceOrder) -> Result<ValidOrder, Vec<Problem>> {
    // TODO: the order `input` asks for, if it breaks no rule of the table
    // above; otherwise one problem for each rule it breaks.
    let _ = input;
    Err(Vec::new())
}

/// `type Mutation { createProduct(input: NewProduct!): Product!
/// placeOrder(input: PlaceOrder!): Order! }`.
pub struct Mutation;

#[Object]
impl Mutation {
    /// Stores a new product and answers it, or refuses with an error for
    /// every rule [`validate_new_product`] finds broken (`BAD_USER_INPUT`),
    /// or with `CONFLICT` at `input.sku` when another product has the sku.
    /// A refused product is not stored. A database that fails is
    /// [`internal_error`].
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: NewProduct,
    ) -> async_graphql::Result<Product> {
        // TODO: a valid input is stored and answered. Otherwise the answer
        // is the errors the comment above lists, and nothing is stored; a
        // database that fails is an internal error.
        let _ = (ctx, input, all_of, insert_product, is_unique_violation);
        Err(Error::new("createProduct is not written yet"))
    }

    /// Places an order (status `PENDING`, each line at the product's current
    /// price, `totalCents` their sum) and takes its stock, in one
    /// transaction; or refuses with an error for every rule
    /// [`validate_order`] finds broken (`BAD_USER_INPUT`), or with the first
    /// of: `NOT_FOUND` at `input.customerId`, `NOT_FOUND` at
    /// `input.items.N.productId`, `OUT_OF_STOCK` at `input.items.N.quantity`
    /// (its product has less stock than the line's quantity), found in this
    /// order, line by line. A database that fails is [`internal_error`]. A
    /// refused or failed order changes nothing: no order, no stock taken.
    async fn place_order(
        &self,
        ctx: &Context<'_>,
        input: PlaceOrder,
    ) -> async_graphql::Result<Order> {
        // TODO: a valid order is placed and answered, as the comment above
        // says; everything it checks and changes happens in one
        // transaction, so that a refused or failed order changes nothing.
        let _ = (ctx, input, validate_order, customer_exists, take_stock);
        let _ = (insert_order, insert_order_item, find_order);
        Err(Error::new("placeOrder is not written yet"))
    }
}

/// The shop's GraphQL schema.
pub type ShopSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema, with `db` for its resolvers.
pub fn schema(db: Db) -> ShopSchema {
    Schema::build(Query, Mutation, EmptySubscription)
        .data(db)
        .finish()
}

/// The GraphQL API at `POST /graphql`, over a database whose schema
/// [`create_schema`] made. (Only `POST`: a mutation sent with `GET` could be
/// triggered by a link or an image on another site.)
pub fn app(db: Db) -> Router {
    Router::new().route("/graphql", post_service(GraphQL::new(schema(db))))
}
