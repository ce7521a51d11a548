//! The fault-injection admin endpoint: a small HTTP API on its own port
//! (127.0.0.1 only) that adds, lists and clears fault rules and shows the
//! fan-out counters.
//!
//! * `POST /faults`: a rule (JSON, the `[[faults]]` schema) or an array of
//!   rules; answers `{"ids":[…]}`, or 400 `{"error":…}` and adds nothing;
//! * `GET /faults`: the rules with their counters and the per-kind counters;
//! * `DELETE /faults`: removes every rule (the counters stay);
//! * `GET /stats`: the engine's [`crate::engine::Stats`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::engine::EngineHandle;
use crate::faults::{lock, FaultRule, SharedFaults};

/// State of the admin endpoint.
#[derive(Debug, Clone)]
pub struct AdminState {
    /// The fault rules.
    pub faults: SharedFaults,
    /// The engine (to apply connection faults at once and read the stats).
    pub engine: EngineHandle,
}

/// The admin routes.
pub fn router(st: AdminState) -> Router {
    Router::new()
        .route("/faults", get(list).post(add).delete(clear))
        .route("/stats", get(stats))
        .with_state(st)
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

async fn list(State(st): State<AdminState>) -> Response {
    let report = lock(&st.faults).report();
    match serde_json::to_value(&report) {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": e.to_string()}),
        ),
    }
}

/// Parses a rule or an array of rules.
pub fn parse_rules(body: &str) -> Result<Vec<FaultRule>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| {
        format!("the body is not JSON ({e}); send a fault rule such as {{\"fault\":\"drop_frames\",\"count\":3}}")
    })?;
    let rules: Vec<FaultRule> = if v.is_array() {
        serde_json::from_value(v)
    } else {
        serde_json::from_value(v).map(|r| vec![r])
    }
    .map_err(|e| {
        format!("not a fault rule: {e}; see docs/SIMULATOR.md, section Fault injection")
    })?;
    for r in &rules {
        r.validate().map_err(|e| e.to_string())?;
    }
    Ok(rules)
}

async fn add(State(st): State<AdminState>, body: String) -> Response {
    let rules = match parse_rules(&body) {
        Ok(r) => r,
        Err(e) => return json_response(StatusCode::BAD_REQUEST, &json!({"error": e})),
    };
    let mut ids = Vec::new();
    {
        let mut f = lock(&st.faults);
        for r in rules {
            match f.add(r) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    return json_response(StatusCode::BAD_REQUEST, &json!({"error": e.to_string()}))
                }
            }
        }
    }
    // Connection faults act on the current connections at once.
    let _ = st.engine.call(|e| e.session_faults()).await;
    json_response(StatusCode::OK, &json!({"ids": ids}))
}

async fn clear(State(st): State<AdminState>) -> Response {
    lock(&st.faults).clear();
    json_response(StatusCode::OK, &json!({}))
}

async fn stats(State(st): State<AdminState>) -> Response {
    match st.engine.call(|e| e.stats).await {
        Ok(s) => json_response(StatusCode::OK, &json!(s)),
        Err(e) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": e.to_string()}),
        ),
    }
}
