//! The shop assembled: its state, its routes, and its life from start to
//! graceful stop (lessons server/state, server/routing, server/shutdown).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware::map_response;
use axum::routing::{get, post, put};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::accounts::{self, Limiter};
use crate::config::Config;
use crate::db::Db;
use crate::live::Hub;
use crate::payment::Gateway;
use crate::products::Cursors;
use crate::tokens::Tokens;
use crate::{
    cart, checkout, discounts, health, idempotency, jobs, live, orders, problem, products, security,
};

/// How long the shop gives open requests to finish once told to stop,
/// before it exits anyway (the contract allows 10 seconds in all).
const GRACE: Duration = Duration::from_secs(7);

/// What every handler may reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub tokens: Tokens,
    pub cursors: Cursors,
    pub limiter: Arc<Limiter>,
    pub gateway: Gateway,
    pub live: Hub,
    /// Wakes the job worker when a checkout stored a job.
    pub jobs: Arc<Notify>,
    /// A hash to check unknown emails' logins against.
    pub dummy_hash: Arc<str>,
}

/// Every route of the contract, inside the layers every response goes
/// through: the fallback's `404` and axum's `405` included.
pub fn router(state: AppState) -> Router {
    // axum adds `Allow` to a 405 outside the layers of the routes' router,
    // so the layers wrap that router whole, as a service.
    Router::new()
        .fallback_service(routes(state))
        .layer(map_response(problem::method_not_allowed))
        .layer(map_response(security::headers))
}

fn routes(state: AppState) -> Router {
    Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/register", post(accounts::register))
        .route("/login", post(accounts::login))
        .route("/me", get(accounts::me))
        .route("/products", get(products::list).post(products::create))
        .route("/products/{id}", get(products::show).put(products::replace))
        .route(
            "/discount-codes",
            get(discounts::list).post(discounts::create),
        )
        .route("/cart", get(cart::show).delete(cart::empty))
        .route(
            "/cart/items/{product_id}",
            put(cart::set_line).delete(cart::remove_line),
        )
        .route("/checkout", post(checkout::checkout))
        .route("/orders", get(orders::list))
        .route("/orders/{id}", get(orders::show))
        .route("/orders/{id}/cancel", post(orders::cancel))
        .route("/orders/{id}/ship", post(orders::ship))
        .route("/orders/{id}/events", get(live::follow))
        .route("/orders/{id}/notifications", get(jobs::notifications))
        .route("/admin/orders", get(orders::list_all))
        .fallback(problem::not_found)
        .with_state(state)
}

/// Runs the shop until `SIGTERM` or Ctrl-C. An error is a startup failure
/// (the caller exits with status 1).
pub async fn run(config: Config) -> Result<(), String> {
    let db = Db::open(&config.database_path).map_err(|error| {
        format!(
            "SHOP_DATABASE_PATH: cannot open the database {}: {error}",
            config.database_path.display()
        )
    })?;
    // What a shop that stopped mid-checkout left behind.
    db.write(|tx| {
        checkout::release_abandoned(tx)?;
        idempotency::forget_unfinished(tx)
    })
    .await
    .map_err(|error: rusqlite::Error| format!("cannot recover the database: {error}"))?;
    accounts::ensure_admin(&db, &config.admin_email, &config.admin_password).await?;

    let dummy_hash =
        tokio::task::spawn_blocking(|| accounts::hash_password("not anybody's password"))
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or("cannot hash a password")?;
    let gateway = Gateway::new(
        &config.payment_url,
        &config.payment_api_key,
        config.payment_timeout,
    )
    .map_err(|error| format!("SHOP_PAYMENT_URL: cannot make the gateway's client: {error}"))?;

    let (stop, stopping) = watch::channel(false);
    let state = AppState {
        db: db.clone(),
        tokens: Tokens::new(&config.token_secret)
            .map_err(|_| "SHOP_TOKEN_SECRET: cannot be used as an HS256 key")?,
        cursors: Cursors::new(&config.token_secret),
        limiter: Arc::default(),
        gateway,
        live: Hub::new(stopping.clone()),
        jobs: Arc::new(Notify::new()),
        dummy_hash: dummy_hash.into(),
    };
    if config.run_jobs {
        tokio::spawn(jobs::run_worker(db, state.jobs.clone(), stopping.clone()));
    }

    let listener = TcpListener::bind(config.bind_addr).await.map_err(|error| {
        format!(
            "SHOP_BIND_ADDR: cannot listen on {}: {error}",
            config.bind_addr
        )
    })?;
    let addr = listener
        .local_addr()
        .map_err(|error| format!("cannot read the listening address: {error}"))?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, run_jobs = config.run_jobs, "the shop is ready");

    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        stop_signal().await;
        tracing::info!("stopping");
        // Ends the event streams and the worker: neither may hold the exit.
        let _ = stop.send(true);
    });
    let mut deadline = stopping.clone();
    tokio::select! {
        served = server => served.map_err(|error| format!("the server failed: {error}")),
        () = async move {
            let _ = deadline.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(GRACE).await;
        } => {
            tracing::warn!("requests still open after the grace period; exiting anyway");
            Ok(())
        }
    }
}

/// Resolves on `SIGTERM` or Ctrl-C.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
