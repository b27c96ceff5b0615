//! The revoke routes: every session of an application, or one.

use lambda_http::Request;
use serde::Serialize;
use uuid::Uuid;

use super::envelope::{path_uuid, to_json, Exchange, Facts, Reply, RETRY_AFTER_SECONDS};
use super::{store_error, Api};
use crate::error::ApiError;
use crate::model::DisconnectReason;
use crate::store::Disconnected;

impl Api {
    pub(super) async fn revoke_all(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let (org, application_id) = self.target(req, x, facts)?;
        let outcome = self
            .store
            .revoke_all(org, application_id, x.now, x.deadline)
            .await
            .map_err(|e| store_error(x, e))?;
        facts.count = Some(outcome.disconnected);

        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct RevokeBody {
            success: bool,
            disconnected_count: u64,
            /// Only on 202: `false`, the sweep stopped early.
            #[serde(skip_serializing_if = "Option::is_none")]
            complete: Option<bool>,
        }
        let mut reply = to_json(&RevokeBody {
            success: true,
            disconnected_count: outcome.disconnected,
            complete: (!outcome.complete).then_some(false),
        })?;
        if !outcome.complete {
            // Every session that connected before the call already reads as disconnected
            // (the watermark); calling again moves and counts the rest.
            reply.status = 202;
            reply
                .headers
                .push(("retry-after", RETRY_AFTER_SECONDS.to_string()));
        }
        Ok(reply)
    }

    pub(super) async fn revoke_one(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let (org, application_id) = self.target(req, x, facts)?;
        let session_id = path_uuid(req, "sessionId")?;
        self.end_session(
            (org, application_id, session_id),
            DisconnectReason::Revoked,
            x,
            facts,
        )
        .await
    }

    /// Disconnects one session for `reason` (revoke-one, or the transport closing) and answers
    /// `{"success": true, "disconnected": …}`: `true` when this call changed it.
    pub(super) async fn end_session(
        &self,
        (org, application_id, session_id): (Uuid, Uuid, Uuid),
        reason: DisconnectReason,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let changed = self
            .store
            .disconnect_session(org, application_id, session_id, x.now, reason)
            .await
            .map_err(|e| store_error(x, e))?
            == Disconnected::Now;
        facts.count = Some(u64::from(changed));

        #[derive(Serialize)]
        struct DisconnectBody {
            success: bool,
            disconnected: bool,
        }
        to_json(&DisconnectBody {
            success: true,
            disconnected: changed,
        })
    }
}
