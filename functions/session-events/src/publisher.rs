//! Where the events go: the [`Publisher`] port, and its EventBridge adapter.

use std::future::Future;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_smithy_types::DateTime;
use sessions::config::{self, env, ConfigError};
use sessions::events::{SessionEvent, SOURCE};
use sessions::store::transport;

use crate::NAME;

/// The most entries one `PutEvents` call takes.
pub const MAX_ENTRIES: usize = 10;

/// Puts events somewhere their consumers read them.
pub trait Publisher {
    /// Publishes `events` (at most [`MAX_ENTRIES`]) at once and answers the positions, in
    /// `events`, of those not accepted: none when every one was, all of them when the call
    /// itself failed. Failures are logged here; the caller retries.
    fn publish(&self, events: &[SessionEvent]) -> impl Future<Output = Vec<usize>> + Send;
}

/// The stack's event bus, through `PutEvents`.
#[derive(Debug, Clone)]
pub struct EventBridge {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridge {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        EventBridge {
            client,
            bus: bus.into(),
        }
    }

    /// `SESSIONS_EVENT_BUS` (the bus's name or ARN) and the standard AWS environment
    /// (`AWS_ENDPOINT_URL_EVENTBRIDGE` for a stand-in), over the store's HTTPS client
    /// (`SESSIONS_TLS_ROOTS`).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let bus = event_bus(env("SESSIONS_EVENT_BUS"))?;
        let roots = config::tls_roots(env("SESSIONS_TLS_ROOTS"))?;
        let sdk = transport::sdk_loader(roots)?.load().await;
        Ok(EventBridge::new(
            aws_sdk_eventbridge::Client::new(&sdk),
            bus,
        ))
    }

    fn entry(&self, event: &SessionEvent) -> Result<PutEventsRequestEntry, serde_json::Error> {
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(event.kind.detail_type())
            .detail(serde_json::to_string(event)?)
            .time(DateTime::from_millis(event.occurred_at.timestamp_millis()))
            .build())
    }
}

/// `SESSIONS_EVENT_BUS`: required, the function has nowhere else to put its events.
pub fn event_bus(value: Option<String>) -> Result<String, ConfigError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        ConfigError("SESSIONS_EVENT_BUS is not set (the event bus's name or ARN)".into())
    })
}

impl Publisher for EventBridge {
    async fn publish(&self, events: &[SessionEvent]) -> Vec<usize> {
        let everything = || (0..events.len()).collect::<Vec<_>>();
        let entries = match events
            .iter()
            .map(|e| self.entry(e))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(entries) => entries,
            Err(e) => {
                tracing::error!(function = NAME, error = %e, "an event does not serialize");
                return everything();
            }
        };
        let answer = match self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(
                    function = NAME,
                    error = %aws_sdk_eventbridge::error::DisplayErrorContext(&e),
                    "PutEvents failed"
                );
                return everything();
            }
        };
        if answer.failed_entry_count() == 0 {
            return Vec::new();
        }
        let results = answer.entries();
        if results.len() != events.len() {
            tracing::warn!(
                function = NAME,
                failed = answer.failed_entry_count(),
                "PutEvents answered a different number of entries; all are retried"
            );
            return everything();
        }
        results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.error_code().is_some())
            .map(|(i, r)| {
                tracing::warn!(
                    function = NAME,
                    event_id = %events[i].event_id,
                    code = r.error_code().unwrap_or_default(),
                    message = r.error_message().unwrap_or_default(),
                    "PutEvents refused an entry"
                );
                i
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bus_is_required() {
        assert!(event_bus(None).is_err());
        assert!(event_bus(Some(String::new())).is_err());
        assert_eq!(event_bus(Some("bus".into())).ok().as_deref(), Some("bus"));
    }
}
