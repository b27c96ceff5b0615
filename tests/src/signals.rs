//! The published-events chain in one process, as `make dev` runs it in three: the stream
//! consumer's handler polling the engine's stream (`sessions-admin events`), forwarding every
//! event's envelope to the local Shared Signals push worker (`sessions-admin ssf-push`), which
//! signs CAEP `session-revoked` SETs and pushes them to the receivers' streams. The API it
//! returns serves the transmitter's routes with the same transmitter.

use session_events::local::{LocalPublisher, StartAt, StreamPoller};
use session_events::Handler;
use sessions::api::Api;
use sessions::ssf::local::{self, LocalScheduler};
use sessions::ssf::settings::SsfSettings;
use sessions::ssf::signer::LocalSigner;
use sessions::ssf::transmitter::Transmitter;
use tokio::task::JoinHandle;

use crate::World;

/// The running chain; it stops when dropped.
pub struct Signals {
    /// `api` with the transmitter's routes.
    pub api: Api,
    /// The push worker's URL.
    pub worker: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Signals {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Signals {
    /// The chain over `world`'s table, signing as `issuer` (the URL the API is served at), its
    /// routes on `api`.
    pub async fn start(world: &World, api: Api, issuer: &str) -> Signals {
        let transmitter =
            transmitter(world, issuer, &[("SESSIONS_SSF_RETRY_BASE_MS", "100")]).await;
        let api = api.with_transmitter(transmitter.clone());

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the push worker");
        let worker = format!("http://{}/", listener.local_addr().expect("worker address"));
        let dead_letters = std::env::temp_dir().join(format!(
            "ssf-dead-letters-{}.jsonl",
            uuid::Uuid::new_v4().simple()
        ));
        let scheduler = LocalScheduler::new(transmitter, dead_letters);
        let serving = tokio::spawn(async move {
            let _ = local::serve(listener, scheduler, std::future::pending()).await;
        });

        let mut poller = stream_poller(world, StartAt::TrimHorizon);
        let publisher = LocalPublisher::new(vec![worker.clone()], false).expect("the HTTP client");
        let polling = tokio::spawn(async move { poller.run(&Handler::new(publisher)).await });
        Signals {
            api,
            worker,
            tasks: vec![serving, polling],
        }
    }
}

/// A transmitter over `world`'s table signing as `issuer` with a fresh local key, loopback
/// receivers allowed, and `vars` (e.g. its retry policy) on top.
pub async fn transmitter(world: &World, issuer: &str, vars: &[(&str, &str)]) -> Transmitter {
    let pem = LocalSigner::generate_pem();
    let base = [
        ("SESSIONS_SSF_ISSUER", issuer),
        ("SESSIONS_SSF_SIGNING_KEY_PEM", pem.as_str()),
        ("SESSIONS_SSF_ALLOW_PRIVATE_ENDPOINTS", "true"),
    ];
    let settings = SsfSettings::from_lookup(|name| {
        vars.iter()
            .chain(base.iter())
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .expect("valid transmitter settings");
    Transmitter::new(&settings, world.store.clone(), Default::default())
        .await
        .expect("the transmitter")
}

/// The local runner's stream reader over `world`'s table.
pub fn stream_poller(world: &World, start: StartAt) -> StreamPoller {
    use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(&world.engine.endpoint)
        .build();
    StreamPoller::new(
        aws_sdk_dynamodbstreams::Client::from_conf(config),
        world.store.table(),
        start,
    )
}
