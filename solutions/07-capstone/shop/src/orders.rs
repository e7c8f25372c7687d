//! Orders: what a checkout made, seen by their owner and by admins only,
//! cancelled by either, shipped by an admin.

use axum::Json;
use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use crate::accounts::{Admin, Customer};
use crate::app::AppState;
use crate::clock::now_rfc3339;
use crate::input::Id;
use crate::live::OrderEvent;
use crate::problem::Problem;

/// One line of an order, at the price it had at checkout.
#[derive(Debug, Clone, Serialize)]
pub struct OrderItem {
    pub product_id: i64,
    pub quantity: i64,
    pub price_cents: i64,
}

/// An order, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub status: String,
    pub items: Vec<OrderItem>,
    pub subtotal_cents: i64,
    pub discount_code: Option<String>,
    pub discount_cents: i64,
    pub total_cents: i64,
    pub created_at: String,
}

const COLUMNS: &str = "id, customer_id, status, subtotal_cents, discount_code, discount_cents,
                       total_cents, created_at";

/// What no client ever sees: an order whose payment is under way (or
/// failed, and is about to be removed).
const VISIBLE: &str = "status != 'pending'";

fn order_from_row(row: &Row<'_>) -> rusqlite::Result<Order> {
    Ok(Order {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        status: row.get(2)?,
        items: Vec::new(),
        subtotal_cents: row.get(3)?,
        discount_code: row.get(4)?,
        discount_cents: row.get(5)?,
        total_cents: row.get(6)?,
        created_at: row.get(7)?,
    })
}

fn with_items(conn: &Connection, mut order: Order) -> rusqlite::Result<Order> {
    let mut statement = conn.prepare_cached(
        "SELECT product_id, quantity, price_cents FROM order_items
         WHERE order_id = ?1 ORDER BY product_id",
    )?;
    order.items = statement
        .query_map([order.id], |row| {
            Ok(OrderItem {
                product_id: row.get(0)?,
                quantity: row.get(1)?,
                price_cents: row.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(order)
}

/// The order `id`, pending ones included (for the checkout that makes it).
pub fn load(conn: &Connection, id: i64) -> rusqlite::Result<Option<Order>> {
    let sql = format!("SELECT {COLUMNS} FROM orders WHERE id = ?1");
    match conn.query_row(&sql, [id], order_from_row).optional()? {
        Some(order) => with_items(conn, order).map(Some),
        None => Ok(None),
    }
}

/// The order `id` if `caller` may see it: its owner's or any to an admin.
/// Another customer's order is answered exactly as a missing one.
pub fn visible(conn: &Connection, id: i64, caller: &Customer) -> Result<Order, Problem> {
    load(conn, id)?
        .filter(|order| order.status != "pending")
        .filter(|order| caller.is_admin() || order.customer_id == caller.id)
        .ok_or_else(|| Problem::order_not_found(id))
}

fn list_where(conn: &Connection, customer_id: Option<i64>) -> rusqlite::Result<Vec<Order>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM orders
         WHERE {VISIBLE} AND (?1 IS NULL OR customer_id = ?1) ORDER BY id"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let orders = statement
        .query_map([customer_id], order_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    orders
        .into_iter()
        .map(|order| with_items(conn, order))
        .collect()
}

/// Records a status change as an event, and returns it for the live
/// streams (published once the transaction has committed).
pub fn record_event(
    conn: &Connection,
    order_id: i64,
    status: &str,
) -> rusqlite::Result<OrderEvent> {
    let at = now_rfc3339();
    conn.execute(
        "INSERT INTO order_events (order_id, status, at) VALUES (?1, ?2, ?3)",
        params![order_id, status, at],
    )?;
    Ok(OrderEvent {
        id: conn.last_insert_rowid(),
        order_id,
        status: status.to_string(),
        at,
    })
}

/// `GET /orders`: the caller's own orders; no query or header names
/// anybody else.
pub async fn list(
    State(app): State<AppState>,
    customer: Customer,
) -> Result<Json<Vec<Order>>, Problem> {
    let orders = app
        .db
        .read(move |conn| list_where(conn, Some(customer.id)))
        .await?;
    Ok(Json(orders))
}

/// `GET /admin/orders`: every order.
pub async fn list_all(
    State(app): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<Order>>, Problem> {
    let orders = app.db.read(|conn| list_where(conn, None)).await?;
    Ok(Json(orders))
}

/// `GET /orders/{id}`.
pub async fn show(
    State(app): State<AppState>,
    customer: Customer,
    Id(id): Id,
) -> Result<Json<Order>, Problem> {
    let order = app
        .db
        .read(move |conn| visible(conn, id, &customer))
        .await?;
    Ok(Json(order))
}

/// `POST /orders/{id}/cancel`: a paid order becomes cancelled, and its
/// items go back to stock (the code's use is kept).
pub async fn cancel(
    State(app): State<AppState>,
    customer: Customer,
    Id(id): Id,
) -> Result<Json<Order>, Problem> {
    change_status(&app, id, customer, "cancelled").await
}

/// `POST /orders/{id}/ship` (admin).
pub async fn ship(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id,
) -> Result<Json<Order>, Problem> {
    change_status(&app, id, admin, "shipped").await
}

/// Moves a paid order to `status` (`shipped` or `cancelled`, both final).
async fn change_status(
    app: &AppState,
    id: i64,
    caller: Customer,
    status: &'static str,
) -> Result<Json<Order>, Problem> {
    let (order, event) = app
        .db
        .write(move |tx| {
            let order = visible(tx, id, &caller)?;
            if order.status != "paid" {
                return Err(Problem::order_status_conflict(&order.status));
            }
            tx.execute(
                "UPDATE orders SET status = ?1 WHERE id = ?2",
                params![status, id],
            )?;
            if status == "cancelled" {
                for item in &order.items {
                    tx.execute(
                        "UPDATE products SET stock = stock + ?1, version = version + 1
                         WHERE id = ?2",
                        params![item.quantity, item.product_id],
                    )?;
                }
            }
            let event = record_event(tx, id, status)?;
            let order = load(tx, id)?.ok_or_else(Problem::internal)?;
            Ok((order, event))
        })
        .await?;
    app.live.publish(event);
    Ok(Json(order))
}
