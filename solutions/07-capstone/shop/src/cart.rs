//! The cart: one per customer, in the database, priced at the products'
//! current prices.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::accounts::Customer;
use crate::app::AppState;
use crate::input::{Fields, Id, read_json};
use crate::problem::Problem;

const QUANTITY_RULE: &str = "must be a whole number from 1 to 100";

/// One line of a cart, at the product's current price.
#[derive(Debug, Clone, Serialize)]
pub struct CartLine {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub price_cents: i64,
    pub line_total_cents: i64,
}

/// A cart, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Cart {
    pub items: Vec<CartLine>,
    pub subtotal_cents: i64,
}

/// The cart of `customer_id`, lines in `product_id` order.
pub fn load(conn: &Connection, customer_id: i64) -> rusqlite::Result<Cart> {
    let mut statement = conn.prepare_cached(
        "SELECT p.id, p.sku, p.name, c.quantity, p.price_cents
         FROM cart_items c JOIN products p ON p.id = c.product_id
         WHERE c.customer_id = ?1
         ORDER BY p.id",
    )?;
    let items = statement
        .query_map([customer_id], |row| {
            let quantity: i64 = row.get(3)?;
            let price_cents: i64 = row.get(4)?;
            Ok(CartLine {
                product_id: row.get(0)?,
                sku: row.get(1)?,
                name: row.get(2)?,
                quantity,
                price_cents,
                line_total_cents: quantity * price_cents,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let subtotal_cents = items.iter().map(|line| line.line_total_cents).sum();
    Ok(Cart {
        items,
        subtotal_cents,
    })
}

/// `GET /cart`.
pub async fn show(State(app): State<AppState>, customer: Customer) -> Result<Json<Cart>, Problem> {
    let cart = app.db.read(move |conn| load(conn, customer.id)).await?;
    Ok(Json(cart))
}

/// `PUT /cart/items/{product_id}`: sets the line's quantity, adding the
/// line if the cart does not have it.
pub async fn set_line(
    State(app): State<AppState>,
    customer: Customer,
    Id(product_id): Id,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Cart>, Problem> {
    let body = read_json(&headers, &body)?;
    let mut fields = Fields::of(&body, &["quantity"])?;
    let quantity = fields.whole("quantity", 1..=100, QUANTITY_RULE);
    fields.finish()?;
    let quantity = quantity.ok_or_else(Problem::internal)?;

    let cart = app
        .db
        .write(move |tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM products WHERE id = ?1)",
                [product_id],
                |row| row.get(0),
            )?;
            if !exists {
                return Err(Problem::product_not_found(product_id));
            }
            tx.execute(
                "INSERT INTO cart_items (customer_id, product_id, quantity) VALUES (?1, ?2, ?3)
                 ON CONFLICT (customer_id, product_id) DO UPDATE SET quantity = excluded.quantity",
                params![customer.id, product_id, quantity],
            )?;
            Ok(load(tx, customer.id)?)
        })
        .await?;
    Ok(Json(cart))
}

/// `DELETE /cart/items/{product_id}`: `204`, also when the line was not
/// there.
pub async fn remove_line(
    State(app): State<AppState>,
    customer: Customer,
    Id(product_id): Id,
) -> Result<StatusCode, Problem> {
    app.db
        .write(move |tx| {
            tx.execute(
                "DELETE FROM cart_items WHERE customer_id = ?1 AND product_id = ?2",
                params![customer.id, product_id],
            )
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /cart`.
pub async fn empty(State(app): State<AppState>, customer: Customer) -> Result<StatusCode, Problem> {
    app.db
        .write(move |tx| {
            tx.execute(
                "DELETE FROM cart_items WHERE customer_id = ?1",
                [customer.id],
            )
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
