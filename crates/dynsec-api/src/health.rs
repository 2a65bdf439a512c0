//! `GET /health` and `GET /ready`, for load balancers, orchestrators and
//! monitors; no token needed, so they name problems without their details
//! (those are in the log).
//!
//! - `/health` — liveness: 200 `{"status": "ok", "version"}` whenever the
//!   process answers at all. A restart would not help a duty that is down
//!   (the supervisor restarts it already) or a full disk, so liveness does
//!   not depend on them.
//! - `/ready` — readiness: 200 `{"status": "ready", ...}` while every
//!   background duty runs and the store takes writes, 503
//!   `{"status": "not ready", "error": ...}` otherwise, with the duties and
//!   the store's state either way.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use dynsec_engine::{Engine, Health};
use serde_json::{json, Value};

pub async fn health_of_engine(State(_engine): State<Engine>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::OK,
        Json(json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
        })),
    )
}

pub async fn ready_of_engine(State(engine): State<Engine>) -> (StatusCode, Json<Value>) {
    let (status, body) = readiness(&engine.health());
    (status, Json(body))
}

/// The `/ready` answer for a health report.
fn readiness(health: &Health) -> (StatusCode, Value) {
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
            json!({
                "status": "ready",
                "version": env!("CARGO_PKG_VERSION"),
                "duties": duties,
                "store": store,
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "status": "not ready",
                "version": env!("CARGO_PKG_VERSION"),
                "error": problems.join("; "),
                "duties": duties,
                "store": store,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::readiness;
    use axum::http::StatusCode;
    use dynsec_engine::{Duty, DutyHealth, Health};

    fn health(reaper: bool, store_error: Option<&str>) -> Health {
        let duty = |duty, running| DutyHealth {
            duty,
            running,
            restarts: 0,
            last_failure: None,
        };
        Health {
            duties: vec![duty(Duty::Reaper, reaper), duty(Duty::Housekeeper, true)],
            store_write_error: store_error.map(str::to_string),
        }
    }

    #[test]
    fn ready_while_duties_run_and_the_store_writes() {
        let (status, body) = readiness(&health(true, None));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ready");
        assert_eq!(body["duties"]["reaper"], "running");
        assert_eq!(body["store"], "writable");
    }

    #[test]
    fn a_stopped_duty_or_a_refusing_store_is_503_naming_it() {
        let (status, body) = readiness(&health(false, None));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "not ready");
        assert_eq!(body["error"], "the reaper is not running");
        assert_eq!(body["duties"]["reaper"], "stopped");
        assert_eq!(body["duties"]["housekeeper"], "running");
        let (status, body) = readiness(&health(true, Some("disk I/O error: /var/x")));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"], "the store refuses writes");
        assert_eq!(body["store"], "refusing writes");
        assert!(!body.to_string().contains("/var/x"), "no details: {body}");
    }
}
