//! The grader's fake payment gateway on its own, for trying a shop by hand:
//!
//! `cargo run -q -p grader --example gateway` serves `POST /charges` on
//! `http://127.0.0.1:4010` (or the address given as the first argument)
//! with the API key `dev-gateway-key`, and prints each attempt it gets.
//! A payment token's name picks the answer: `tok_decline...` is declined
//! (402), `tok_unavailable...` is 503 every time, `tok_fail...` a 500,
//! `tok_hang...` never answers; any other token is charged. An idempotency
//! key the gateway answered 201 or 402 gets that answer again.

use std::time::Duration;

use grader::gateway::Gateway;

const API_KEY: &str = "dev-gateway-key";

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4010".into());
    let gateway = match Gateway::start_on(&addr, API_KEY.into()).await {
        Ok(gateway) => gateway,
        Err(error) => {
            eprintln!("cannot listen on {addr}: {error}");
            std::process::exit(1);
        }
    };
    println!(
        "fake payment gateway on {url}: start your shop with SHOP_PAYMENT_URL={url} SHOP_PAYMENT_API_KEY={API_KEY}",
        url = gateway.url
    );
    let mut seen = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let attempts = gateway.all_attempts();
        for attempt in &attempts[seen..] {
            let answered = attempt
                .answered
                .map_or("no answer (hangs)".to_string(), |status| status.to_string());
            println!(
                "POST /charges  key={:?}  body={}  authorization ok={}  -> {answered}",
                attempt.idempotency_key.as_deref().unwrap_or("(none)"),
                attempt.body,
                attempt.authorization.as_deref() == Some(&format!("Bearer {API_KEY}")),
            );
        }
        seen = attempts.len();
    }
}
