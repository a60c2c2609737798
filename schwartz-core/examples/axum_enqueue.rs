//! An axum service that enqueues a job from a request handler through [`AsyncClient`]:
//! `POST /orders {"id": 7, "email": "ada@example.com"}` answers `{"job": "<handle>"}` once
//! the `send_receipt` job is stored, without blocking the runtime.
//!
//! ```text
//! cargo run -p schwartz-core --features tokio --example axum_enqueue
//! curl -s -XPOST localhost:3000/orders -H 'content-type: application/json' \
//!      -d '{"id": 7, "email": "ada@example.com"}'
//! ```
//!
//! It runs on the in-memory store to stay self-contained; an application passes a
//! `schwartz_diesel::DieselStore` instead, and runs a `WorkerPool` on threads of its own.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use schwartz_core::{AsyncClient, Client, TypedJob};
use serde::{Deserialize, Serialize};

/// The request body.
#[derive(Deserialize)]
pub struct Order {
    /// The order's id.
    pub id: u64,
    /// Where the receipt goes.
    pub email: String,
}

/// The job: send the receipt of an order.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct SendReceipt {
    /// The order.
    pub order: u64,
    /// The address.
    pub email: String,
}

impl TypedJob for SendReceipt {
    const NAME: &'static str = "send_receipt";
}

async fn place_order(
    State(queue): State<AsyncClient>,
    Json(order): Json<Order>,
) -> Result<Json<serde_json::Value>, (StatusCode, String)> {
    let job = SendReceipt {
        order: order.id,
        email: order.email,
    };
    let handle = queue
        .insert(job)
        .await
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok(Json(serde_json::json!({ "job": handle.to_string() })))
}

/// The service's routes.
pub fn app(queue: AsyncClient) -> Router {
    Router::new()
        .route("/orders", post(place_order))
        .with_state(queue)
}

/// The client of the example (in-memory store).
pub fn client() -> Client {
    Client::builder()
        .store(Arc::new(schwartz_memory::MemoryStore::new()))
        .build()
        .expect("a client on the in-memory store")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}/orders", listener.local_addr()?);
    axum::serve(listener, app(AsyncClient::new(client()))).await?;
    Ok(())
}
