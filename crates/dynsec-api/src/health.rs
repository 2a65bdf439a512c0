//! `GET /health`: 200 while every background duty runs and the store takes
//! writes, 503 otherwise — for load balancers and monitors. It carries no
//! token, so it names problems without their details (those are in the log).

use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let health = state.engine.health();
    let duties: serde_json::Map<String, Value> = health
        .duties
        .iter()
        .map(|d| {
            let status = if d.running { "running" } else { "stopped" };
            (d.duty.as_str().to_string(), json!(status))
        })
        .collect();
    let mut problems: Vec<String> = health
        .duties
        .iter()
        .filter(|d| !d.running)
        .map(|d| format!("the {} is not running", d.duty.as_str()))
        .collect();
    if health.store_write_error.is_some() {
        problems.push("the store refuses writes".into());
    }
    let store = if health.store_write_error.is_some() {
        "refusing writes"
    } else {
        "writable"
    };
    if health.is_healthy() {
        (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "duties": duties,
                "store": store,
            })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unhealthy",
                "version": env!("CARGO_PKG_VERSION"),
                "error": problems.join("; "),
                "duties": duties,
                "store": store,
            })),
        )
    }
}
