//! The KMS signer through the real AWS SDK client, against a stand-in for KMS on a loopback
//! port (its JSON protocol: `TrentService.GetPublicKey` answers the key's DER
//! SubjectPublicKeyInfo, `TrentService.Sign` a DER ECDSA signature): the JWKS key and its `kid`
//! come from GetPublicKey, and a SET signed through KMS verifies with joserfc.

use std::sync::{Arc, Mutex};

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
use serde_json::{json, Value};
use sessions::config::TrustRoots;
use sessions::ssf::signer::{sign_set, Jwks, KmsSigner, LocalSigner, Signer};
use sessions::store::transport;
use tokio::sync::oneshot;

use super::rig::{verify_with_joserfc, Pushed};

const KEY_ID: &str = "arn:aws:kms:us-east-1:123456789012:key/ssf-test";

struct FakeKms {
    key: SigningKey,
    /// Every request: its `X-Amz-Target` and JSON body.
    requests: Mutex<Vec<(String, Value)>>,
}

async fn kms(
    axum::extract::State(fake): axum::extract::State<Arc<FakeKms>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    fake.requests
        .lock()
        .expect("lock")
        .push((target.clone(), request.clone()));
    let answer = match target.as_str() {
        "TrentService.GetPublicKey" => {
            let der = fake
                .key
                .verifying_key()
                .to_public_key_der()
                .expect("SPKI DER");
            json!({"KeyId": KEY_ID, "PublicKey": STANDARD.encode(der.as_bytes()),
                "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY",
                "SigningAlgorithms": ["ECDSA_SHA_256"]})
        }
        "TrentService.Sign" => {
            let message = STANDARD
                .decode(request["Message"].as_str().unwrap_or_default())
                .unwrap_or_default();
            let signature: Signature = fake.key.sign(&message);
            json!({"KeyId": KEY_ID, "SigningAlgorithm": "ECDSA_SHA_256",
                "Signature": STANDARD.encode(signature.to_der().as_bytes())})
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/x-amz-json-1.1")],
                "{}".into(),
            )
        }
    };
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.1")],
        answer.to_string(),
    )
}

#[tokio::test]
async fn a_set_signed_through_kms_verifies_against_the_key_kms_publishes() {
    let pem = LocalSigner::generate_pem();
    let fake = Arc::new(FakeKms {
        key: SigningKey::from_pkcs8_pem(&pem).expect("a P-256 key"),
        requests: Mutex::new(Vec::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
    let app = axum::Router::new()
        .route("/", axum::routing::post(kms))
        .with_state(fake.clone());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });

    let config = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "tests"))
        .endpoint_url(&endpoint)
        .http_client(transport::http_client(TrustRoots::default()).expect("http client"))
        .build();
    let signer = KmsSigner::new(aws_sdk_kms::Client::from_conf(config), KEY_ID.into())
        .await
        .expect("the KMS key");
    let local = LocalSigner::from_pem(&pem).expect("the same key, locally");
    assert_eq!(
        signer.jwk(),
        local.jwk(),
        "the JWK and kid of the key KMS holds"
    );

    let set = sign_set(
        &signer,
        &json!({"iss": "https://ssf.test.example", "jti": "1"}),
    )
    .await
    .expect("signed through KMS");
    let jwks = serde_json::to_value(Jwks {
        keys: vec![signer.jwk().clone()],
    })
    .expect("json");
    let verified = verify_with_joserfc(
        &jwks,
        &[Pushed {
            authorization: None,
            content_type: None,
            set,
        }],
    );
    assert_eq!(verified[0].1["iss"], "https://ssf.test.example");

    let requests = fake.requests.lock().expect("lock").clone();
    let targets: Vec<&str> = requests.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(targets, ["TrentService.GetPublicKey", "TrentService.Sign"]);
    let sign = &requests[1].1;
    assert_eq!(sign["KeyId"], KEY_ID);
    assert_eq!(sign["MessageType"], "RAW");
    assert_eq!(sign["SigningAlgorithm"], "ECDSA_SHA_256");
    let _ = tx.send(());
}
