//! WebSocket endpoints of one product port: market streams (raw `/ws/<s>`,
//! combined `/stream?streams=`, live `SUBSCRIBE` / `UNSUBSCRIBE` /
//! `LIST_SUBSCRIPTIONS` with ids; USD-M also under the routed `/public`,
//! `/market` prefixes) and listenKey user-data streams (`/ws/<listenKey>`,
//! USD-M `/private/ws/<listenKey>` and `/private/ws?listenKey=`).
//!
//! Each connection has a writer task fed by two queues: the bounded data
//! queue whose only sender is the engine (when the engine drops it, for a
//! slow reader, the writer closes the socket) and a small control queue for
//! the replies to the client's own requests.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use veloz_sim::AccountId;

use crate::engine::now_ms;
use crate::rest::PortState;

/// What a connection carries.
#[derive(Debug, Clone)]
enum Feed {
    Market {
        streams: Vec<String>,
        combined: bool,
    },
    User {
        account: AccountId,
        key: String,
    },
}

/// Splits `a/b/c` into stream names.
fn split_streams(s: &str) -> Vec<String> {
    s.split('/')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

async fn listen_key_owner(st: &PortState, key: &str) -> Option<AccountId> {
    let key = key.to_string();
    let product = st.product;
    st.engine
        .call(move |e| {
            e.listen_keys
                .get(&key)
                .filter(|k| k.product == product && k.expires_ms > now_ms())
                .map(|k| k.account)
        })
        .await
        .ok()
        .flatten()
}

/// `GET /ws` (no stream yet: the client subscribes).
pub async fn raw_root(State(st): State<PortState>, ws: WebSocketUpgrade) -> Response {
    upgrade(
        st,
        ws,
        Feed::Market {
            streams: Vec::new(),
            combined: false,
        },
    )
}

/// `GET /ws/<stream>[/<stream>…]` or `/ws/<listenKey>`.
pub async fn raw(
    State(st): State<PortState>,
    Path(path): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    let user_ok = st.product.is_futures() || st.spot_listen_key;
    if user_ok && !path.contains('@') {
        if let Some(account) = listen_key_owner(&st, &path).await {
            return upgrade(st, ws, Feed::User { account, key: path });
        }
    }
    upgrade(
        st,
        ws,
        Feed::Market {
            streams: split_streams(&path),
            combined: false,
        },
    )
}

/// `GET /stream?streams=a/b/c`.
pub async fn combined(
    State(st): State<PortState>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let streams = q
        .get("streams")
        .map(|s| split_streams(s))
        .unwrap_or_default();
    upgrade(
        st,
        ws,
        Feed::Market {
            streams,
            combined: true,
        },
    )
}

/// USD-M `GET /private/ws/<listenKey>`.
pub async fn private_path(
    State(st): State<PortState>,
    Path(key): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    private(st, key, ws).await
}

/// USD-M `GET /private/ws?listenKey=<k>` (and `/private/stream?listenKey=`).
pub async fn private_query(
    State(st): State<PortState>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let key = q.get("listenKey").cloned().unwrap_or_default();
    private(st, key, ws).await
}

async fn private(st: PortState, key: String, ws: WebSocketUpgrade) -> Response {
    match listen_key_owner(&st, &key).await {
        Some(account) => upgrade(st, ws, Feed::User { account, key }),
        None => (
            axum::http::StatusCode::BAD_REQUEST,
            json!({"code": -1125, "msg": "This listenKey does not exist."}).to_string(),
        )
            .into_response(),
    }
}

fn upgrade(st: PortState, ws: WebSocketUpgrade, feed: Feed) -> Response {
    ws.on_upgrade(move |socket| serve(st, socket, feed))
}

async fn serve(st: PortState, socket: WebSocket, feed: Feed) {
    let (data_tx, mut data_rx) = mpsc::channel::<Arc<str>>(st.queue);
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<String>(64);
    let product = st.product;
    let combined = matches!(feed, Feed::Market { combined: true, .. });
    // Kept (weakly, so that the engine dropping the connection's subscription
    // still ends the writer) to attach user-data feeds subscribed later by
    // listenKey.
    let user_tx = data_tx.downgrade();
    let reg = match feed {
        Feed::Market { streams, combined } => {
            st.engine
                .call(move |e| e.add_market_sub(product, streams, combined, data_tx))
                .await
        }
        Feed::User { account, key } => {
            st.engine
                .call(move |e| e.add_user_sub(account, product, None, Some(key), data_tx))
                .await
        }
    };
    let Ok(sub) = reg else { return };
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        loop {
            let text: String = tokio::select! {
                d = data_rx.recv() => match d {
                    Some(t) => t.to_string(),
                    None => break,
                },
                c = ctl_rx.recv() => match c {
                    Some(t) => t,
                    None => break,
                },
            };
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut conn = Conn {
        sub,
        combined,
        user_tx,
        user_subs: Vec::new(),
    };
    while let Some(Ok(msg)) = stream.next().await {
        match msg {
            Message::Text(t) => {
                let reply = control(&st, &mut conn, t.as_str()).await;
                if let Some(r) = reply {
                    if ctl_tx.send(r).await.is_err() {
                        break;
                    }
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    let subs: Vec<u64> = std::iter::once(sub)
        .chain(conn.user_subs.iter().map(|(_, id)| *id))
        .collect();
    drop(conn);
    let _ = st
        .engine
        .call(move |e| {
            for id in subs {
                e.remove_sub(id);
            }
        })
        .await;
    drop(ctl_tx);
    let _ = writer.await;
}

/// One market-stream connection's subscriptions.
struct Conn {
    /// The connection's market subscription.
    sub: u64,
    /// Combined-stream framing.
    combined: bool,
    /// The connection's outbox, for user-data feeds attached by listenKey
    /// (weak: it must not keep the connection open on its own).
    user_tx: mpsc::WeakSender<Arc<str>>,
    /// listenKeys subscribed with `SUBSCRIBE` (what the official connectors'
    /// `user_data(listen_key)` does), with their user-data subscription ids.
    user_subs: Vec<(String, u64)>,
}

/// Answers a control request (`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`,
/// `SET_PROPERTY`, `GET_PROPERTY`). A `SUBSCRIBE` parameter that is a valid
/// listenKey of this product attaches that account's user-data events to the
/// connection, as Binance does.
async fn control(st: &PortState, conn: &mut Conn, text: &str) -> Option<String> {
    let (sub, combined) = (conn.sub, conn.combined);
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Some(json!({"error": {"code": 3, "msg": "Invalid JSON: expected a JSON object"}, "id": null}).to_string());
    };
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    if !(id.is_null() || id.is_u64() || id.is_i64() || id.is_string()) {
        return Some(json!({"error": {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}, "id": null}).to_string());
    }
    let params: Vec<String> = v
        .get("params")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let method = v.get("method").and_then(Value::as_str).unwrap_or("");
    let result = match method {
        "SUBSCRIBE" | "UNSUBSCRIBE" => {
            let add = method == "SUBSCRIBE";
            let params = attach_listen_keys(st, conn, params, add).await;
            let r = st
                .engine
                .call(move |e| {
                    if add {
                        e.change_streams(sub, &params, &[])
                    } else {
                        e.change_streams(sub, &[], &params)
                    }
                })
                .await;
            if r.is_err() {
                return None;
            }
            Value::Null
        }
        "LIST_SUBSCRIPTIONS" => {
            let mut r = st
                .engine
                .call(move |e| e.change_streams(sub, &[], &[]))
                .await
                .ok()?;
            r.extend(conn.user_subs.iter().map(|(k, _)| k.clone()));
            json!(r)
        }
        "SET_PROPERTY" => Value::Null,
        "GET_PROPERTY" => json!(combined),
        _ => {
            return Some(
                json!({"error": {"code": 1, "msg": "Invalid request: unknown method"}, "id": id})
                    .to_string(),
            );
        }
    };
    Some(json!({"result": result, "id": id}).to_string())
}

/// Takes the listenKeys out of a `SUBSCRIBE`/`UNSUBSCRIBE` parameter list and
/// attaches (or detaches) their user-data feeds; returns the market streams.
async fn attach_listen_keys(
    st: &PortState,
    conn: &mut Conn,
    params: Vec<String>,
    add: bool,
) -> Vec<String> {
    let user_ok = st.product.is_futures() || st.spot_listen_key;
    let mut streams = Vec::with_capacity(params.len());
    for p in params {
        if !user_ok || p.contains('@') || p.starts_with('!') {
            streams.push(p);
            continue;
        }
        if add {
            if conn.user_subs.iter().any(|(k, _)| *k == p) {
                continue;
            }
            let Some(account) = listen_key_owner(st, &p).await else {
                streams.push(p);
                continue;
            };
            // The engine already dropped this connection: nothing to attach.
            let Some(tx) = conn.user_tx.upgrade() else {
                continue;
            };
            let (product, key) = (st.product, p.clone());
            if let Ok(id) = st
                .engine
                .call(move |e| e.add_user_sub(account, product, None, Some(key), tx))
                .await
            {
                conn.user_subs.push((p, id));
            }
        } else if let Some(i) = conn.user_subs.iter().position(|(k, _)| *k == p) {
            let (_, id) = conn.user_subs.remove(i);
            let _ = st.engine.call(move |e| e.remove_sub(id)).await;
        } else {
            streams.push(p);
        }
    }
    streams
}
