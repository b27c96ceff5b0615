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
use crate::store::{Budget, QueryChunk, StoreError};

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

        let (sessions, ctx, next, skipped) =
            self.collect_page(&binding, after, params.limit, x).await?;
        let next_cursor = next.map(|p| self.cursors.encode(&binding, p, x.now));
        facts.skipped = skipped;
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

    /// Reads until the page holds `limit` matching sessions, the partition is exhausted, or
    /// the page runs short of time or bytes ([`ReadAhead`] decides). Returns the sessions, the
    /// status context they were judged with, where the next page starts, and how many
    /// unreadable items were left out.
    async fn collect_page(
        &self,
        binding: &CursorBinding,
        after: Option<Position>,
        limit: u32,
        x: &Exchange,
    ) -> Result<(Vec<Session>, StatusContext, Option<Position>, u32), ApiError> {
        let (org, app_id, filter) = (
            binding.organization_id,
            binding.application_id,
            binding.filter,
        );
        let budget = Budget::new(x.deadline);
        let mut page = ReadAhead::new(limit);
        let first = page.first_read();
        let (application, mut chunk) = match after {
            // From the top, the application item comes first in the same query.
            None => {
                let mut chunk = self
                    .store
                    .query_sessions(org, app_id, filter, None, first, &budget)
                    .await
                    .map_err(|e| store_error(x, e))?;
                let application = chunk.application.take().ok_or(ApiError::Internal)?;
                (application, chunk)
            }
            // Mid-list, read the application (for its watermark) alongside the page.
            Some(position) => tokio::try_join!(
                budget.bound("GetItem", self.store.get_application(org, app_id)),
                self.store
                    .query_sessions(org, app_id, filter, Some(position), first, &budget),
            )
            .map_err(|e| store_error(x, e))?,
        };
        let ctx = self.status_context(x.now, application.revoked_before);
        let keep = |s: &Session| filter.matches(s.derived_status(&ctx));
        let weight = |s: &Session| json_size(&s.view(&ctx));
        let mut skipped = 0;
        let mut cut_short = false;
        loop {
            skipped += chunk.skipped;
            let time_left = !cut_short && !budget.spent();
            let Step::Fetch { after, size } = page.absorb(
                chunk.sessions,
                chunk.last,
                chunk.exhausted,
                keep,
                weight,
                time_left,
            ) else {
                break;
            };
            chunk = match self
                .store
                .query_sessions(org, app_id, filter, Some(after), size, &budget)
                .await
            {
                Ok(chunk) => chunk,
                // A later read that fails or runs out of time ends the page early, with a
                // cursor after what was read: the client continues instead of starting over.
                Err(StoreError::Unavailable(detail)) => {
                    tracing::warn!(request_id = %x.request_id, error = %detail, "list page cut short");
                    cut_short = true;
                    QueryChunk {
                        last: Some(after),
                        ..QueryChunk::default()
                    }
                }
                Err(e) => return Err(store_error(x, e)),
            };
        }
        let (sessions, next) = page.finish();
        Ok((sessions, ctx, next, skipped))
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

/// The bytes `value` takes as JSON, counted without building the text.
fn json_size(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        // Counted as too large to fit: a view that does not serialize fails the page anyway.
        Err(_) => usize::MAX / 2,
    }
}
