//! `POST /api/v1/devices`: the operator registers devices while the server runs (the server
//! holds the park's writer lock, so `tanji device register` cannot); the registration is
//! logged through the sequencer and the new device's uploads are accepted at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::{client, config, fixture, start, ENTERPRISE_1, OPERATOR, START};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use tanji_ledger::{leaf_hash, verify_inclusion};
use tanji_park::Park;
use tanji_readings::{upload_to_json, Channel, LogEntry, UploadBody};
use tanji_store::Store as _;

fn hash(b64: &Value) -> [u8; 32] {
    base64::engine::general_purpose::STANDARD
        .decode(b64.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[tokio::test]
async fn api_registers_device_while_serving() {
    let fx = fixture(2, 1);
    let srv = start(fx.path(), config(&fx)).await;
    let http = client();
    let size = srv.state.head().size;
    let key = SigningKey::from_bytes(&[42; 32]);
    let enterprise = fx.enterprise(0);
    let body = json!({
        "device": "d-api",
        "public_key": hex::encode(key.verifying_key().to_bytes()),
        "enterprise": enterprise,
        "meter": "m-api-grid",
        "rated_kw": 250,
    });
    let res = http
        .post(srv.at("/api/v1/devices"))
        .bearer_auth(OPERATOR)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let a: Value = res.json().await.unwrap();
    assert_eq!(a["status"], "registered", "{a}");
    assert_eq!(a["device"], "d-api", "{a}");
    // Logged as the next entry, in its own batch with its checkpoint, and proven in it.
    assert_eq!(a["index"], size, "{a}");
    assert_eq!(a["tree_size"], size + 1, "{a}");
    assert_eq!(srv.state.head().size, size + 1);
    assert!(a["checkpoint"]
        .as_str()
        .unwrap()
        .contains(&format!("\n{}\n", size + 1)));

    // The same request again changes nothing.
    let res = http
        .post(srv.at("/api/v1/devices"))
        .bearer_auth(OPERATOR)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["status"], "already_registered", "{again}");
    assert_eq!(srv.state.head().size, size + 1);

    // An upload of the new device is accepted at once.
    let upload = UploadBody {
        device: "d-api".into(),
        seq: 1,
        prev: [0; 32],
        channels: vec![Channel {
            meter: "m-api-grid".into(),
            carrier: "electricity_import".into(),
            unit: "kWh".into(),
            decimals: 3,
            start: START,
            interval_s: 900,
            values: vec![12_500; 96],
        }],
    }
    .sign(&key);
    let res = http
        .post(srv.at("/api/v1/uploads"))
        .body(upload_to_json(&upload))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ack: Value = res.json().await.unwrap();
    assert_eq!(ack["status"], "accepted", "{ack}");
    assert_eq!(ack["index"], size + 1, "{ack}");
    srv.stop().await;

    // On disk: the registration the CLI would have logged, with the proof the answer gave,
    // and a log that audits clean.
    let park = Park::open(fx.path()).unwrap();
    let (index, reg) = park.registrations().unwrap().pop().unwrap();
    assert_eq!(index, size);
    assert_eq!(
        (
            reg.device.as_str(),
            reg.enterprise.as_str(),
            reg.meter.as_str(),
            reg.carrier.as_str(),
            reg.unit.as_str(),
            reg.rated_per_hour_milli
        ),
        (
            "d-api",
            enterprise.as_str(),
            "m-api-grid",
            "electricity_import",
            "kWh",
            250_000
        )
    );
    let proof: Vec<[u8; 32]> = a["proof"].as_array().unwrap().iter().map(hash).collect();
    let leaf = leaf_hash(&LogEntry::Registration(reg).to_bytes());
    let root = park.prove(size, Some(size + 1)).unwrap().root;
    verify_inclusion(&leaf, size, size + 1, &proof, &root).unwrap();
    let audit = park.audit(&Default::default(), &mut |_, _| {}).unwrap();
    assert!(audit.ok(), "{:?}", audit.findings);
}

#[tokio::test]
async fn device_registration_refusals_are_json_and_log_nothing() {
    let fx = fixture(2, 1);
    let srv = start(fx.path(), config(&fx)).await;
    let http = client();
    let size = srv.state.head().size;
    let key = hex::encode(SigningKey::from_bytes(&[43; 32]).verifying_key().to_bytes());
    let good = json!({
        "device": "d-api",
        "public_key": key,
        "enterprise": fx.enterprise(0),
        "meter": "m-api-grid",
        "rated_kw": 250,
    });
    let post = |token: &'static str, body: String| {
        http.post(srv.at("/api/v1/devices"))
            .bearer_auth(token)
            .body(body)
            .send()
    };

    // An enterprise token may not register devices, even for its own enterprise.
    let res = post(ENTERPRISE_1, good.to_string()).await.unwrap();
    assert_eq!(res.status(), 403);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["error"], "forbidden", "{e}");

    // Bad bodies: a JSON 400 whose message names the field at fault.
    let mut without_key = good.clone();
    without_key.as_object_mut().unwrap().remove("public_key");
    let cases = [
        (without_key.to_string(), "public_key"),
        (good.to_string().replace(&key, "not hex"), "public_key"),
        (good.to_string().replace("d-api", ""), "device"),
        (good.to_string().replace("250", "-1"), "rated_kw"),
        (
            good.to_string().replace("250", "100000001"),
            "from 0.001 to 10^8",
        ),
        (good.to_string().replace("250", "0.0001"), "from 0.001"),
        (
            good.to_string().replace("\"rated_kw\"", "\"rated_mw\""),
            "rated_mw",
        ),
        (
            good.to_string().replace("}", ",\"carrier\":\"plutonium\"}"),
            "carrier",
        ),
        ("[]".to_string(), "device registration"),
    ];
    for (body, field) in cases {
        let res = post(OPERATOR, body.clone()).await.unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["error"], "bad_request", "{e}");
        assert!(
            e["message"].as_str().unwrap().contains(field),
            "{body}: {e}"
        );
    }

    // A device already registered with another key, or a meter bound to another device: 409.
    let taken = &fx.sim.devices[0];
    let other_key = good.to_string().replace("d-api", &taken.device);
    let res = post(OPERATOR, other_key).await.unwrap();
    assert_eq!(res.status(), 409);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["error"], "conflict", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains(&taken.device),
        "{e}"
    );

    assert_eq!(srv.state.head().size, size, "nothing was logged");
    srv.stop().await;
}

/// One day of a meter's 15-minute readings from `key`'s device, as the upload route takes it.
fn day(
    key: &SigningKey,
    device: &str,
    meter: &str,
    seq: u64,
    prev: [u8; 32],
) -> tanji_readings::SignedUpload {
    UploadBody {
        device: device.into(),
        seq,
        prev,
        channels: vec![Channel {
            meter: meter.into(),
            carrier: "electricity_import".into(),
            unit: "kWh".into(),
            decimals: 3,
            start: START + (seq as i64 - 1) * 86_400,
            interval_s: 900,
            values: vec![12_500; 96],
        }],
    }
    .sign(key)
}

#[tokio::test]
async fn api_revokes_a_device_and_its_later_uploads_are_refused() {
    let fx = fixture(2, 1);
    let srv = start(fx.path(), config(&fx)).await;
    let http = client();
    let key = SigningKey::from_bytes(&[44; 32]);
    let registration = json!({
        "device": "d-rev",
        "public_key": hex::encode(key.verifying_key().to_bytes()),
        "enterprise": fx.enterprise(0),
        "meter": "m-rev-grid",
        "rated_kw": 250,
    });
    let res = http
        .post(srv.at("/api/v1/devices"))
        .bearer_auth(OPERATOR)
        .json(&registration)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let first = day(&key, "d-rev", "m-rev-grid", 1, [0; 32]);
    let res = http
        .post(srv.at("/api/v1/uploads"))
        .body(upload_to_json(&first))
        .send()
        .await
        .unwrap();
    let ack: Value = res.json().await.unwrap();
    assert_eq!(ack["status"], "accepted", "{ack}");
    let first_index = ack["index"].as_u64().unwrap();

    // The revocation: logged next, in its own batch, with a proof against its checkpoint.
    let size = srv.state.head().size;
    let res = http
        .post(srv.at("/api/v1/devices/d-rev/revoke"))
        .bearer_auth(OPERATOR)
        .json(&json!({"reason": "key leaked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let a: Value = res.json().await.unwrap();
    assert_eq!(a["status"], "revoked", "{a}");
    assert_eq!(a["device"], "d-rev", "{a}");
    assert_eq!(a["index"], size, "{a}");
    assert_eq!(a["tree_size"], size + 1, "{a}");
    assert_eq!(srv.state.head().size, size + 1);

    // The device's next upload is refused, naming the device and the revocation's index.
    let second = day(&key, "d-rev", "m-rev-grid", 2, first.record_hash());
    let res = http
        .post(srv.at("/api/v1/uploads"))
        .body(upload_to_json(&second))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["status"], "rejected", "{r}");
    assert_eq!(r["code"], "device_revoked", "{r}");
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("d-rev"), "{r}");
    assert!(reason.contains(&format!("log entry {size}")), "{r}");
    assert_eq!(srv.state.head().size, size + 1, "nothing logged");

    // Again: 200 already_revoked, nothing written.
    let res = http
        .post(srv.at("/api/v1/devices/d-rev/revoke"))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["status"], "already_revoked", "{again}");
    assert_eq!(again["index"], size, "{again}");

    // The id is not registered again, even with the same key: a new key needs a new id.
    let res = http
        .post(srv.at("/api/v1/devices"))
        .bearer_auth(OPERATOR)
        .json(&registration)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let e: Value = res.json().await.unwrap();
    assert!(
        e["message"].as_str().unwrap().contains("new device id"),
        "{e}"
    );
    assert_eq!(srv.state.head().size, size + 1);
    srv.stop().await;

    // On disk: the revocation the answer proved, the upload before it still logged, and a
    // log that audits clean (reopened, the park still refuses the device).
    let park = Park::open(fx.path()).unwrap();
    assert_eq!(park.revocation_of("d-rev"), Some(size));
    let entry = park.store().entry(size).unwrap();
    let Ok(LogEntry::Revocation(rev)) = LogEntry::from_bytes(&entry) else {
        panic!("entry {size} is not a revocation");
    };
    assert_eq!(
        (rev.device.as_str(), rev.reason.as_str()),
        ("d-rev", "key leaked")
    );
    let proof: Vec<[u8; 32]> = a["proof"].as_array().unwrap().iter().map(hash).collect();
    let root = park.prove(size, Some(size + 1)).unwrap().root;
    verify_inclusion(&leaf_hash(&entry), size, size + 1, &proof, &root).unwrap();
    assert!(matches!(
        LogEntry::from_bytes(&park.store().entry(first_index).unwrap()),
        Ok(LogEntry::Upload(u)) if u == first
    ));
    let audit = park.audit(&Default::default(), &mut |_, _| {}).unwrap();
    assert!(audit.ok(), "{:?}", audit.findings);
}

#[tokio::test]
async fn device_revocation_refusals_are_json_and_log_nothing() {
    let fx = fixture(2, 1);
    let srv = start(fx.path(), config(&fx)).await;
    let http = client();
    let size = srv.state.head().size;
    let device = fx.sim.devices[0].device.clone();
    let post = |token: &'static str, device: String, body: String| {
        http.post(srv.at(&format!("/api/v1/devices/{device}/revoke")))
            .bearer_auth(token)
            .body(body)
            .send()
    };

    // An enterprise token may not revoke, even its own enterprise's device.
    let res = post(ENTERPRISE_1, device.clone(), String::new())
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["error"], "forbidden", "{e}");

    // An unknown device: 404, naming only that device.
    let res = post(OPERATOR, "d-nobody".into(), String::new())
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["error"], "not_found", "{e}");
    let m = e["message"].as_str().unwrap();
    assert!(m.contains("d-nobody"), "{e}");
    assert!(!m.contains(&device), "{e}");

    // A reason beyond the bound, or a body that is not one: 400.
    let long = json!({ "reason": "x".repeat(tanji_readings::MAX_REASON_LEN + 1) }).to_string();
    for (body, field) in [(long, "reason"), ("{\"why\":1}".to_string(), "why")] {
        let res = post(OPERATOR, device.clone(), body.clone()).await.unwrap();
        assert_eq!(res.status(), 400, "{body:.40}");
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["error"], "bad_request", "{e}");
        assert!(e["message"].as_str().unwrap().contains(field), "{e}");
    }
    assert_eq!(srv.state.head().size, size, "nothing was logged");
    srv.stop().await;
}
