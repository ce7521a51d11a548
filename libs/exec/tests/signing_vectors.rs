//! Every vector of `shared/fixtures/binance/signing/signing_vectors.json`
//! through our code: the signer on the documented payload, and, where the
//! payload is a REST or WebSocket-API parameter string, our own encoder and
//! request builder producing that payload from the parameters.
//!
//! Where the fixture's README says the documentation is wrong (COIN-M
//! example 1/2; the stray space of the "mixed" examples), the test asserts the
//! correct value and that the documented one is *not* what we produce.
//!
//! RSA has no published private-key vector: a key generated in the test checks
//! sign-then-verify and determinism (PKCS#1 v1.5 is deterministic).

use base64::Engine as _;
use serde_json::Value;
use veloz_core::fixtures::fixture;
use veloz_core::MarketKind;
use veloz_exec::binance::config::Credentials;
use veloz_exec::binance::ratelimit::Cost;
use veloz_exec::binance::rest::{Endpoint, Method, RestRequest, Security};
use veloz_exec::binance::signing::{
    form_encode, percent_encode, ws_api_payload, SignatureKind, Signer,
};

fn vectors() -> Vec<Value> {
    let path = fixture("binance/signing/signing_vectors.json").unwrap();
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["vectors"].as_array().unwrap().clone()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("vector {} has no {k}", v["id"]))
}

/// Splits `k=v&k=v` (percent-decoding REST payloads, raw for WS-API ones).
fn split(payload: &str, decode: bool) -> Vec<(String, String)> {
    payload
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            if decode {
                (decode_pct(k), decode_pct(v))
            } else {
                (k.to_string(), v.to_string())
            }
        })
        .collect()
}

fn decode_pct(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The right value: `recomputed_signature` (equal to the documented one
/// where the documentation is right, see [`check_doc`]).
fn correct(v: &Value) -> String {
    s(v, "recomputed_signature").to_string()
}

/// Checks the documented signature: equal when the fixture says it
/// reproduces, different (a documentation error) when it says it does not.
fn check_doc(v: &Value, ours: &str) {
    if let Some(doc) = v["expected_signature_from_doc"].as_str() {
        match v["doc_signature_reproduces"].as_bool() {
            Some(true) => assert_eq!(ours, doc, "{}", v["id"]),
            Some(false) => assert_ne!(
                ours, doc,
                "{}: the documented value is wrong and must not be produced",
                v["id"]
            ),
            None => panic!("{}: doc_signature_reproduces missing", v["id"]),
        }
    }
}

/// Builds a signed POST from parameters, the last two (`recvWindow`,
/// `timestamp`) added by our signer, and returns (payload, signature).
fn via_builder(
    creds: &Credentials,
    query: &[(String, String)],
    body: &[(String, String)],
) -> (String, String) {
    let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
    let mut r = RestRequest::new(
        MarketKind::Spot,
        Endpoint::NewOrder,
        Method::Post,
        "/api/v3/order",
        Security::Trade,
        Cost::weight(1),
    );
    let (tail, rest): (Vec<_>, Vec<_>) = body
        .iter()
        .partition(|(k, _)| k == "recvWindow" || k == "timestamp");
    assert_eq!(tail.len(), 2, "payload ends with recvWindow and timestamp");
    assert_eq!(tail[0].0, "recvWindow");
    for (k, v) in query {
        r.query.push((leak(k), v.clone()));
    }
    for (k, v) in rest {
        r.body.push((leak(k), v.clone()));
    }
    let recv: u32 = tail[0].1.parse().unwrap();
    let ts: u64 = tail[1].1.trim().parse().unwrap();
    let signed = r.sign(Some(creds), ts, Some(recv)).unwrap();
    let (body_wo_sig, sig) = signed.body.rsplit_once("&signature=").unwrap();
    (format!("{}{}", signed.query, body_wo_sig), sig.to_string())
}

#[test]
fn every_signing_vector_passes_through_our_code() {
    let mut seen = Vec::new();
    for v in vectors() {
        let id = s(&v, "id").to_string();
        match id.as_str() {
            "spot_rest_hmac_ascii" | "spot_rest_hmac_non_ascii" | "usdm_rest_hmac_example1_2" | "coinm_rest_hmac_example1_2_as_documented" => {
                let payload = s(&v, "totalParams_signed");
                let signer = Signer::hmac(s(&v, "secretKey").as_bytes()).unwrap();
                let sig = signer.sign(payload.as_bytes()).unwrap();
                assert_eq!(sig, correct(&v), "{id}");
                check_doc(&v, &sig);
                // From the parameters, through the encoder and the builder.
                let params = split(payload, true);
                assert_eq!(form_encode(&params), payload, "{id}: our encoding of the parameters");
                let creds = Credentials::hmac(s(&v, "apiKey"), s(&v, "secretKey")).unwrap();
                let (built, bsig) = via_builder(&creds, &[], &params);
                assert_eq!(built, payload, "{id}: builder payload");
                assert_eq!(bsig, correct(&v), "{id}: builder signature");
            }
            "spot_rest_hmac_mixed_query_body" | "usdm_rest_hmac_example3_corrected" => {
                let payload = s(&v, "totalParams_signed");
                assert_eq!(payload, format!("{}{}", s(&v, "queryString"), s(&v, "requestBody")), "{id}: no '&' between query and body");
                let signer = Signer::hmac(s(&v, "secretKey").as_bytes()).unwrap();
                let sig = signer.sign(payload.as_bytes()).unwrap();
                assert_eq!(sig, correct(&v), "{id}");
                check_doc(&v, &sig);
                let creds = Credentials::hmac(s(&v, "apiKey"), s(&v, "secretKey")).unwrap();
                let (built, bsig) = via_builder(&creds, &split(s(&v, "queryString"), true), &split(s(&v, "requestBody"), true));
                assert_eq!(built, payload, "{id}");
                assert_eq!(bsig, correct(&v), "{id}");
            }
            "usdm_rest_hmac_example3_as_documented" | "coinm_rest_hmac_example3_as_documented" => {
                // The documented value only holds for the doc's typo
                // (`timestamp= 1591702613943`): reproduce it on the raw bytes...
                let payload = s(&v, "totalParams_signed");
                assert!(payload.contains("timestamp= "), "{id}");
                let signer = Signer::hmac(s(&v, "secretKey").as_bytes()).unwrap();
                let sig = signer.sign(payload.as_bytes()).unwrap();
                assert_eq!(sig, correct(&v), "{id}");
                check_doc(&v, &sig);
                // ...but our builder never sends a space: it signs the corrected payload.
                let creds = Credentials::hmac(s(&v, "apiKey"), s(&v, "secretKey")).unwrap();
                let (built, bsig) = via_builder(&creds, &split(s(&v, "queryString"), true), &split(s(&v, "requestBody"), true));
                assert_eq!(built, payload.replace("timestamp= ", "timestamp="), "{id}");
                assert_ne!(bsig, sig, "{id}: the typo'd signature must not come out of the builder");
                assert_eq!(bsig, signer.sign(built.as_bytes()).unwrap());
                if id.starts_with("usdm") {
                    assert_eq!(bsig, "30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4");
                }
            }
            "spot_wsapi_hmac_ascii" | "spot_wsapi_hmac_non_ascii" => {
                let payload = s(&v, "totalParams_signed");
                let mut params = split(payload, false);
                params.reverse();
                params.push(("signature".into(), "ignored".into()));
                assert_eq!(ws_api_payload(&params), payload, "{id}: sorted, raw, without signature");
                let sig = Signer::hmac(s(&v, "secretKey").as_bytes()).unwrap().sign(payload.as_bytes()).unwrap();
                assert_eq!(sig, correct(&v), "{id}");
                check_doc(&v, &sig);
            }
            "spot_fix_logon_ed25519" => {
                use ed25519_dalek::pkcs8::DecodePublicKey;
                use ed25519_dalek::Verifier;
                let signer = Signer::ed25519_pem(s(&v, "private_key_pem")).unwrap();
                assert_eq!(signer.kind(), SignatureKind::Ed25519);
                let payload = hex::decode(s(&v, "payload_hex")).unwrap();
                assert_eq!(payload, s(&v, "payload_escaped").replace("\\x01", "\x01").into_bytes());
                let sig = signer.sign(&payload).unwrap();
                assert_eq!(sig, correct(&v), "{id}");
                check_doc(&v, &sig);
                let vk = ed25519_dalek::VerifyingKey::from_public_key_pem(s(&v, "public_key_pem")).unwrap();
                let raw = base64::engine::general_purpose::STANDARD.decode(&sig).unwrap();
                vk.verify(&payload, &ed25519_dalek::Signature::from_slice(&raw).unwrap()).unwrap();
            }
            "derived_ed25519_rest_payload" => {
                let payload = s(&v, "totalParams_signed");
                let signer = Signer::ed25519_pem(s(&v, "private_key_pem")).unwrap();
                let sig = signer.sign(payload.as_bytes()).unwrap();
                assert_eq!(sig, correct(&v), "{id}");
                // On the wire the base64 is percent-encoded.
                let wire = percent_encode(&sig);
                assert!(!wire.contains('+') && !wire.contains('/') && !wire.contains('='), "{wire}");
                assert_eq!(decode_pct(&wire), sig);
                // Our builder signs exactly what it sends: rebuild the request
                // (our order: recvWindow then timestamp) and verify it.
                let creds = Credentials::ed25519_pem("k", s(&v, "private_key_pem")).unwrap();
                let params = split(payload, true);
                let mut body: Vec<(String, String)> = params.iter().filter(|(k, _)| k != "timestamp" && k != "recvWindow").cloned().collect();
                body.push(("recvWindow".into(), "5000".into()));
                body.push(("timestamp".into(), "1668481559918".into()));
                let (built, wire_sig) = via_builder(&creds, &[], &body);
                assert_eq!(built, form_encode(&body));
                assert_eq!(decode_pct(&wire_sig), signer.sign(built.as_bytes()).unwrap());
            }
            "derived_ed25519_wsapi_payload" => {
                let payload = s(&v, "totalParams_signed");
                let mut params = split(payload, false);
                params.rotate_left(3);
                assert_eq!(ws_api_payload(&params), payload, "{id}");
                let sig = Signer::ed25519_pem(s(&v, "private_key_pem")).unwrap().sign(payload.as_bytes()).unwrap();
                assert_eq!(sig, correct(&v), "{id}");
            }
            other => panic!("signing vector {other:?} has no check: add one (every vector must pass through our code)"),
        }
        seen.push(id);
    }
    assert_eq!(seen.len(), 13, "{seen:?}");
}

#[test]
fn hmac_signature_is_lowercase_hex_and_unencoded_on_the_wire() {
    let creds = Credentials::hmac(
        "k",
        "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
    )
    .unwrap();
    let mut r = RestRequest::new(
        MarketKind::Spot,
        Endpoint::QueryOrder,
        Method::Get,
        "/api/v3/order",
        Security::UserData,
        Cost::weight(4),
    );
    r.push("symbol", "LTCBTC");
    r.push("orderId", "1");
    let signed = r.sign(Some(&creds), 1499827319559, None).unwrap();
    let (_, sig) = signed.query.rsplit_once("&signature=").unwrap();
    assert_eq!(sig.len(), 64);
    assert!(sig
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(signed.query.matches("timestamp=").count(), 1);
    assert!(!signed.query.contains("recvWindow"));
}

mod rsa_keys {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    use rsa::signature::Verifier;

    fn key() -> rsa::RsaPrivateKey {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x005E_EDB1_A4CE);
        rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap()
    }

    #[test]
    fn rsa_sign_verify_and_determinism() {
        let key = key();
        let public = key.to_public_key();
        let payload = b"symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2&timestamp=1668481559918&recvWindow=5000";

        let signer = Signer::rsa(key.clone());
        assert_eq!(signer.kind(), SignatureKind::RsaSha256);
        let sig = signer.sign(payload).unwrap();
        assert_eq!(
            sig,
            signer.sign(payload).unwrap(),
            "PKCS#1 v1.5 is deterministic"
        );
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&sig)
            .unwrap();
        assert_eq!(raw.len(), 256, "2048-bit key: 256-byte signature");
        let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public.clone());
        vk.verify(
            payload,
            &rsa::pkcs1v15::Signature::try_from(raw.as_slice()).unwrap(),
        )
        .unwrap();
        // A changed payload does not verify.
        assert!(vk
            .verify(
                b"symbol=BTCUSDT",
                &rsa::pkcs1v15::Signature::try_from(raw.as_slice()).unwrap()
            )
            .is_err());

        // The same key from PKCS#8 and PKCS#1 PEM signs the same.
        let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let pkcs1 = key.to_pkcs1_pem(LineEnding::LF).unwrap();
        assert_eq!(Signer::rsa_pem(&pkcs8).unwrap().sign(payload).unwrap(), sig);
        assert_eq!(Signer::rsa_pem(&pkcs1).unwrap().sign(payload).unwrap(), sig);

        // Through a request: the signature is percent-encoded on the wire and
        // verifies against the exact bytes sent.
        let creds = Credentials::rsa_pem("k", pkcs8.as_str()).unwrap();
        let mut r = RestRequest::new(
            MarketKind::Spot,
            Endpoint::NewOrder,
            Method::Post,
            "/api/v3/order",
            Security::Trade,
            Cost::weight(1),
        );
        r.push("symbol", "BTCUSDT");
        r.push("side", "SELL");
        let signed = r.sign(Some(&creds), 1668481559918, Some(5000)).unwrap();
        let (sent, wire) = signed.body.rsplit_once("&signature=").unwrap();
        assert!(!wire.contains('+') && !wire.contains('/') && !wire.contains('='));
        let raw = base64::engine::general_purpose::STANDARD
            .decode(decode_pct(wire))
            .unwrap();
        vk.verify(
            sent.as_bytes(),
            &rsa::pkcs1v15::Signature::try_from(raw.as_slice()).unwrap(),
        )
        .unwrap();
    }
}

#[test]
fn bad_keys_fail_with_typed_errors_that_never_contain_the_key() {
    let secret_marker = "TOPSECRETKEYMATERIAL0123456789";
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{secret_marker}\n-----END PRIVATE KEY-----\n");
    for err in [
        Signer::ed25519_pem(&pem).unwrap_err(),
        Signer::rsa_pem(&pem).unwrap_err(),
        Credentials::ed25519_pem("api", pem.as_str()).unwrap_err(),
        Credentials::rsa_pem("api", pem.as_str()).unwrap_err(),
    ] {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(secret_marker), "{text}");
        }
        assert!(
            err.to_string().contains("BEGIN PRIVATE KEY"),
            "the message says what is expected: {err}"
        );
    }
    // A valid key's Debug does not show it either.
    let v = vectors();
    let ed = v
        .iter()
        .find(|v| v["id"] == "spot_fix_logon_ed25519")
        .unwrap();
    let creds = Credentials::ed25519_pem("my-api-key", s(ed, "private_key_pem")).unwrap();
    let dbg = format!("{creds:?}");
    assert!(
        !dbg.contains("my-api-key") && !dbg.contains("MC4CAQAw"),
        "{dbg}"
    );
    assert!(dbg.contains("Ed25519"), "{dbg}");
}
