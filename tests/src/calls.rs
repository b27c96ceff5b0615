//! Counting the DynamoDB requests an API request makes: an SDK interceptor on the client the
//! store is given. `tests/tests/api/contract/round_trips.rs` holds the API to the counts
//! `docs/data-model.md` promises; `make bench` reports them (`ddb_calls_*`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Counts every operation a client starts (not retries: one per `send()`), by operation name.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Calls>);

#[derive(Debug, Default)]
struct Calls {
    total: AtomicU64,
    by_operation: Mutex<BTreeMap<String, u64>>,
}

impl CallCounter {
    pub fn total(&self) -> u64 {
        self.0.total.load(Ordering::SeqCst)
    }

    pub fn by_operation(&self) -> BTreeMap<String, u64> {
        self.0
            .by_operation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn reset(&self) {
        self.0.total.store(0, Ordering::SeqCst);
        self.0
            .by_operation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    /// Once per `send()`, before any attempt: the count.
    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.total.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Also once per `send()`, and late enough that the operation's name is configured.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_else(|| "unknown".into());
        *self
            .0
            .by_operation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }
}

/// An SDK client for a local engine, counting its requests with `counter`.
pub fn counting_client(endpoint: &str, counter: CallCounter) -> Client {
    Client::from_conf(crate::local_config(endpoint).interceptor(counter).build())
}
