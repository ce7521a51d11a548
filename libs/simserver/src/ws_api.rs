//! The spot WebSocket API at `/ws-api/v3` (spot port): `session.logon`
//! (Ed25519 keys), `session.status`, `session.logout`,
//! `userDataStream.subscribe` (after logon), `userDataStream.subscribe.signature`,
//! `userDataStream.unsubscribe`, `order.place`, `order.test`, `order.cancel`,
//! `order.status`, `openOrders.status`, `account.status`, `ping`, `time`.
//!
//! Requests are `{"id","method","params"}`; answers
//! `{"id","status","result","rateLimits"}` or `{"id","status","error"}`.
//! Signed requests carry `apiKey`, `timestamp` and `signature` over every
//! other parameter sorted by name (`k=v` joined with `&`, values not
//! encoded); after `session.logon` they may omit `apiKey` and `signature`.
//! Order requests run the same code as the REST endpoints. User-data events
//! arrive wrapped as `{"subscriptionId":n,"event":{…}}`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::Method;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use veloz_core::MarketKind;
use veloz_sim::AccountId;

use crate::auth::check_timing;
use crate::engine::now_ms;
use crate::error::ApiError;
use crate::faults::{self, ConnectionKind, FaultKind, Target};
use crate::params::Params;
use crate::rest::{endpoint, PortState};

/// The path REST-scoped fault rules see for WebSocket API requests.
pub const WS_API_PATH: &str = "/ws-api/v3";

/// `GET /ws-api/v3`.
pub async fn handler(
    State(st): State<PortState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| serve(st, peer, socket))
}

struct Session {
    st: PortState,
    peer: SocketAddr,
    account: Option<AccountId>,
    /// subscriptionId -> engine subscriber id.
    subs: BTreeMap<u64, u64>,
    next_subscription: u64,
    events_tx: mpsc::Sender<Arc<str>>,
    /// `clock_skew` of the current request (ms).
    skew: i64,
}

async fn serve(st: PortState, peer: SocketAddr, socket: WebSocket) {
    let (events_tx, mut events_rx) = mpsc::channel::<Arc<str>>(st.queue);
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<String>(64);
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        loop {
            let text: String = tokio::select! {
                c = ctl_rx.recv() => match c { Some(t) => t, None => break },
                d = events_rx.recv() => match d { Some(t) => t.to_string(), None => break },
            };
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut s = Session {
        st,
        peer,
        account: None,
        subs: BTreeMap::new(),
        next_subscription: 0,
        events_tx,
        skew: 0,
    };
    let ws_api = Target::connection(MarketKind::Spot, ConnectionKind::WsApi);
    while let Some(Ok(msg)) = stream.next().await {
        match msg {
            Message::Text(t) => {
                // close_connections: the connection is closed instead of the
                // request being read (the client never learns its outcome).
                if faults::fire(&s.st.faults, FaultKind::CloseConnections, &ws_api).is_some() {
                    break;
                }
                let Some(reply) = s.request(t.as_str()).await else {
                    // order_unknown_outcome with timeout: never answered.
                    continue;
                };
                if ctl_tx.send(reply.to_string()).await.is_err() {
                    break;
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    let ids: Vec<u64> = s.subs.values().copied().collect();
    let _ =
        s.st.engine
            .call(move |e| {
                for id in ids {
                    e.remove_sub(id);
                }
            })
            .await;
    drop(ctl_tx);
    drop(s);
    // Both queues are closed: the writer flushes, answers the client's close
    // handshake (or sends ours) and ends. A client that stops reading cannot
    // hold the task: after a bounded wait the writer is dropped.
    let mut writer = writer;
    if tokio::time::timeout(std::time::Duration::from_secs(2), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

fn value_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn error(id: &Value, e: &ApiError) -> Value {
    let mut v = json!({"id": id, "status": e.status, "error": {"code": e.code, "msg": e.msg}});
    if let (Some(s), Some(obj)) = (e.retry_after, v.as_object_mut()) {
        obj.insert("retryAfter".into(), json!(now_ms() + s * 1000));
    }
    v
}

impl Session {
    /// The answer to one request; `None` when a fault swallows it.
    async fn request(&mut self, text: &str) -> Option<Value> {
        let Ok(req) = serde_json::from_str::<Value>(text) else {
            return Some(error(
                &Value::Null,
                &ApiError::new(
                    400,
                    -1100,
                    "Illegal characters found in a parameter: the request is not JSON.",
                ),
            ));
        };
        let id = req.get("id").cloned().unwrap_or(Value::Null);
        let method = req
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let params: Map<String, Value> = req
            .get("params")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let weight = match method.as_str() {
            "order.status" => 4,
            "openOrders.status" => 6,
            "account.status" => 20,
            "userDataStream.subscribe" | "userDataStream.subscribe.signature" => 2,
            _ => 1,
        };
        let target = Target::path(MarketKind::Spot, WS_API_PATH);
        if let Some(r) = faults::fire(&self.st.faults, FaultKind::RateLimitStorm, &target) {
            let mut e = ApiError::new(
                429,
                -1003,
                "Too many requests; the simulator is injecting a 429 storm (fault injection). Back off until retryAfter.",
            );
            e.retry_after = Some(r.retry_after_secs);
            return Some(error(&id, &e));
        }
        self.skew =
            faults::fire(&self.st.faults, FaultKind::ClockSkew, &target).map_or(0, |r| r.skew_ms);
        let usage = match self.st.limiter.charge(self.peer.ip(), weight, now_ms()) {
            Ok(u) => u,
            Err(e) => return Some(error(&id, &e)),
        };
        let result = self.dispatch(&method, &params).await;
        if method == "order.place" && result.is_ok() {
            if let Some(r) = faults::fire(&self.st.faults, FaultKind::OrderUnknownOutcome, &target)
            {
                // The order was executed; the client is not told.
                if r.timeout {
                    return None;
                }
                let e = ApiError::new(
                    503,
                    -1006,
                    "An unexpected response was received from the message bus. Execution status unknown.",
                );
                return Some(error(&id, &e));
            }
        }
        Some(match result {
            Ok(result) => json!({
                "id": id,
                "status": 200,
                "result": result,
                "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "count": usage.weight_1m}],
            }),
            Err(e) => error(&id, &e),
        })
    }

    /// The server's clock as this request sees it (`clock_skew`).
    fn now(&self) -> u64 {
        now_ms().saturating_add_signed(self.skew)
    }

    /// Authenticates a request: a signature if present, else the logged-on
    /// session (which still needs `timestamp`).
    fn auth(&self, params: &Map<String, Value>, pairs: &Params) -> Result<AccountId, ApiError> {
        let now = self.now();
        if params.contains_key("signature") {
            let key = params.get("apiKey").map(value_str);
            let entry = self.st.keys.lookup(key.as_deref())?;
            check_timing(pairs, now)?;
            let mut sorted: Vec<(&String, String)> = params
                .iter()
                .filter(|(k, _)| k.as_str() != "signature")
                .map(|(k, v)| (k, value_str(v)))
                .collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            let payload = sorted
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&");
            let sig = params.get("signature").map(value_str).unwrap_or_default();
            if !entry.verify(payload.as_bytes(), &sig) {
                return Err(ApiError::bad_signature());
            }
            return Ok(entry.account);
        }
        match self.account {
            Some(a) => {
                check_timing(pairs, now)?;
                Ok(a)
            }
            None => Err(ApiError::missing("signature")),
        }
    }

    async fn dispatch(
        &mut self,
        method: &str,
        params: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let pairs = Params::from_pairs(
            params
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "apiKey" | "signature"))
                .map(|(k, v)| (k.clone(), value_str(v)))
                .collect(),
        );
        match method {
            "ping" => Ok(json!({})),
            "time" => Ok(json!({"serverTime": self.now()})),
            "session.logon" => {
                let key = params.get("apiKey").map(value_str);
                let entry = self.st.keys.lookup(key.as_deref())?;
                if !entry.is_ed25519() {
                    return Err(ApiError::new(400, -4056, "HMAC_SHA256 API key is not supported: session.logon needs an Ed25519 key."));
                }
                let account = self.auth(params, &pairs)?;
                self.account = Some(account);
                Ok(self.status())
            }
            "session.status" => Ok(self.status()),
            "session.logout" => {
                self.account = None;
                Ok(self.status())
            }
            "userDataStream.subscribe" | "userDataStream.subscribe.signature" => {
                let account = if method == "userDataStream.subscribe" {
                    self.account.ok_or_else(|| ApiError::new(401, -2015, "Invalid API-key, IP, or permissions for action: log on with session.logon first."))?
                } else {
                    self.auth(params, &pairs)?
                };
                let sid = self.next_subscription;
                self.next_subscription += 1;
                let tx = self.events_tx.clone();
                let sub = self
                    .st
                    .engine
                    .call(move |e| e.add_user_sub(account, MarketKind::Spot, Some(sid), None, tx))
                    .await?;
                self.subs.insert(sid, sub);
                Ok(json!({"subscriptionId": sid}))
            }
            "userDataStream.unsubscribe" => {
                let which: Vec<u64> = match params.get("subscriptionId") {
                    Some(v) => {
                        let sid = value_str(v).parse::<u64>().map_err(|_| ApiError::malformed("subscriptionId"))?;
                        if !self.subs.contains_key(&sid) {
                            return Err(ApiError::new(400, -2036, "User Data Stream subscription not active."));
                        }
                        vec![sid]
                    }
                    None => self.subs.keys().copied().collect(),
                };
                let mut ids = Vec::new();
                for sid in which {
                    if let Some(id) = self.subs.remove(&sid) {
                        ids.push(id);
                    }
                }
                self.st
                    .engine
                    .call(move |e| {
                        for id in ids {
                            e.remove_sub(id);
                        }
                    })
                    .await?;
                Ok(json!({}))
            }
            "order.place" | "order.test" | "order.cancel" | "order.status" | "openOrders.status" | "account.status" => {
                let account = self.auth(params, &pairs)?;
                let (m, name) = match method {
                    "order.place" => (Method::POST, "order"),
                    "order.test" => (Method::POST, "order/test"),
                    "order.cancel" => (Method::DELETE, "order"),
                    "order.status" => (Method::GET, "order"),
                    "openOrders.status" => (Method::GET, "openOrders"),
                    _ => (Method::GET, "account"),
                };
                if method == "order.place" {
                    let mut usage = crate::limits::Usage::default();
                    self.st.limiter.charge_order(account, &mut usage, now_ms())?;
                }
                self.st
                    .engine
                    .call(move |e| endpoint(e, MarketKind::Spot, &m, name, &pairs, Some(account)))
                    .await?
            }
            _ => Err(ApiError::new(400, -1000, format!("Unknown method {method:?}: the simulator's WebSocket API serves session.*, userDataStream.*, order.place/test/cancel/status, openOrders.status, account.status, ping, time."))),
        }
    }

    fn status(&self) -> Value {
        let now = self.now();
        json!({
            "apiKey": Value::Null,
            "authorizedSince": self.account.map(|_| now),
            "connectedSince": now,
            "returnRateLimits": true,
            "serverTime": now,
            "userDataStream": !self.subs.is_empty(),
        })
    }
}
