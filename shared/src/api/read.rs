//! The read routes: a page of an application's sessions, and one session.

use lambda_http::{Request, RequestExt};
use serde::Serialize;

use super::envelope::{path_uuid, to_json, Exchange, Facts, Reply};
use super::page::{ReadAhead, Step};
use super::{store_error, Api};
use crate::cursor::CursorBinding;
use crate::error::ApiError;
use crate::model::{Position, Session, SessionView, StatusContext};
use crate::params::ListParams;

impl Api {
    pub(super) async fn list(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let (org, application_id) = self.target(req, x, facts)?;
        let params =
            ListParams::parse(|name| req.query_string_parameters_ref().and_then(|q| q.all(name)))?;
        let binding = CursorBinding {
            organization_id: org,
            application_id,
            filter: params.filter,
        };
        let after = params
            .cursor
            .as_deref()
            .map(|c| self.cursors.decode(c, &binding, x.now))
            .transpose()?;

        let (sessions, ctx, more) = self.collect_page(&binding, after, params.limit, x).await?;
        let next_cursor = more
            .then(|| sessions.last().map(Session::position))
            .flatten()
            .map(|p| self.cursors.encode(&binding, p, x.now));
        facts.count = Some(sessions.len() as u64);

        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ListBody<'a> {
            items: Vec<SessionView<'a>>,
            next_cursor: Option<String>,
        }
        to_json(&ListBody {
            items: sessions.iter().map(|s| s.view(&ctx)).collect(),
            next_cursor,
        })
    }

    /// Reads until the page holds `limit` matching sessions or the partition is exhausted
    /// ([`ReadAhead`] decides how far). Returns the sessions, the status context they were
    /// judged with, and whether more match.
    async fn collect_page(
        &self,
        binding: &CursorBinding,
        after: Option<Position>,
        limit: u32,
        x: &Exchange,
    ) -> Result<(Vec<Session>, StatusContext, bool), ApiError> {
        let (org, app_id, filter) = (
            binding.organization_id,
            binding.application_id,
            binding.filter,
        );
        let mut page = ReadAhead::new(limit);
        let first = page.first_read();
        let (application, mut chunk) = match after {
            // From the top, the application item comes first in the same query.
            None => {
                let mut chunk = self
                    .store
                    .query_sessions(org, app_id, filter, None, first)
                    .await
                    .map_err(|e| store_error(x, e))?;
                let application = chunk.application.take().ok_or(ApiError::Internal)?;
                (application, chunk)
            }
            // Mid-list, read the application (for its watermark) alongside the page.
            Some(position) => tokio::try_join!(
                self.store.get_application(org, app_id),
                self.store
                    .query_sessions(org, app_id, filter, Some(position), first),
            )
            .map_err(|e| store_error(x, e))?,
        };
        let ctx = self.status_context(x.now, application.revoked_before);
        let keep = |s: &Session| filter.matches(s.derived_status(&ctx));
        while let Step::Fetch { after, size } = page.absorb(chunk.sessions, chunk.exhausted, keep) {
            chunk = self
                .store
                .query_sessions(org, app_id, filter, Some(after), size)
                .await
                .map_err(|e| store_error(x, e))?;
        }
        let (sessions, more) = page.finish();
        Ok((sessions, ctx, more))
    }

    pub(super) async fn get(
        &self,
        req: &Request,
        x: &Exchange,
        facts: &mut Facts,
    ) -> Result<Reply, ApiError> {
        let (org, application_id) = self.target(req, x, facts)?;
        let session_id = path_uuid(req, "sessionId")?;
        let (application, session) = self
            .store
            .get_session(org, application_id, session_id)
            .await
            .map_err(|e| store_error(x, e))?;
        let ctx = self.status_context(x.now, application.revoked_before);

        #[derive(Serialize)]
        struct GetBody<'a> {
            session: SessionView<'a>,
        }
        to_json(&GetBody {
            session: session.view(&ctx),
        })
    }
}
