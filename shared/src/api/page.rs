//! Filling one page of a list: how far to read ahead while the filter drops items, and when to
//! stop. Pure (no I/O): the handler runs the reads this asks for, so the loop's rules are
//! unit-tested here without an engine.
//!
//! A page stops early, shorter than `limit` but with a cursor, when the invocation runs short
//! of time or the page would outgrow [`MAX_PAGE_BYTES`]: a list never times out into a bare
//! 5xx, and never overruns Lambda's 6 MB response.

use crate::model::{Position, Session};

/// The largest query a filtered list issues while looking for matches (about one DynamoDB
/// response page of session items).
pub const MAX_CHUNK: i32 = 1000;
/// How much larger each further read is than the one before while the filter drops items.
const GROWTH: i32 = 4;
/// The most session JSON one page carries: Lambda refuses responses over 6 MB, and the
/// envelope and API Gateway's encoding need some of that.
pub const MAX_PAGE_BYTES: usize = 5 * 1024 * 1024;

/// What to do next.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Read up to `size` more items after `after`.
    Fetch { after: Position, size: i32 },
    /// The page is decided; [`ReadAhead::finish`] gives it.
    Done,
}

/// One page being filled: `limit` matching sessions, plus one more read to learn whether more
/// remain (that one is never returned, only reported as a cursor).
#[derive(Debug)]
pub struct ReadAhead {
    limit: usize,
    size: i32,
    matched: Vec<Session>,
    bytes: usize,
    /// Set when the page was cut short: the cursor goes after this position.
    cut_at: Option<Position>,
}

impl ReadAhead {
    pub fn new(limit: u32) -> Self {
        let limit = limit as usize;
        // One extra to know whether more remain, and one for the application item that heads
        // a read from the top of the partition.
        let size = i32::try_from(limit + 2).unwrap_or(MAX_CHUNK);
        ReadAhead {
            limit,
            size,
            matched: Vec::with_capacity(limit + 1),
            bytes: 0,
            cut_at: None,
        }
    }

    /// The size of the first read.
    pub fn first_read(&self) -> i32 {
        self.size
    }

    /// Takes one read: its `sessions` in order, keeping those `keep` accepts, each weighing
    /// `weight` bytes; `last`, where the read ended (unreadable items it skipped included);
    /// and whether the partition is `exhausted`. Says what next: done once the page and its
    /// one-extra probe are full, the partition is exhausted, the page's bytes are spent, or
    /// there is no `time_left` for another read; else a larger read after `last`.
    pub fn absorb(
        &mut self,
        sessions: Vec<Session>,
        last: Option<Position>,
        exhausted: bool,
        keep: impl Fn(&Session) -> bool,
        weight: impl Fn(&Session) -> usize,
        time_left: bool,
    ) -> Step {
        for session in sessions.into_iter().filter(|s| keep(s)) {
            if self.matched.len() < self.limit {
                let w = weight(&session);
                if self.bytes + w > MAX_PAGE_BYTES && !self.matched.is_empty() {
                    // Full by size: the cursor goes after the last session that fits.
                    self.cut_at = self.matched.last().map(Session::position);
                    return Step::Done;
                }
                self.bytes += w;
            }
            self.matched.push(session);
            if self.matched.len() > self.limit {
                return Step::Done;
            }
        }
        if exhausted {
            return Step::Done;
        }
        let Some(after) = last else {
            return Step::Done;
        };
        if !time_left {
            // Out of time: the cursor goes after everything read so far.
            self.cut_at = Some(after);
            return Step::Done;
        }
        self.size = self.size.saturating_mul(GROWTH).min(MAX_CHUNK);
        Step::Fetch {
            after,
            size: self.size,
        }
    }

    /// The page (at most `limit` sessions) and, when more may follow, where the next starts.
    pub fn finish(mut self) -> (Vec<Session>, Option<Position>) {
        let more = self.matched.len() > self.limit;
        self.matched.truncate(self.limit);
        let next = match self.cut_at {
            Some(at) => Some(at),
            None if more => self.matched.last().map(Session::position),
            None => None,
        };
        (self.matched, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SessionStatus;
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    fn sessions(n: usize, from_ms: i64) -> Vec<Session> {
        (0..n)
            .map(|i| {
                let at = Utc
                    .timestamp_millis_opt(from_ms - i as i64)
                    .single()
                    .expect("valid time");
                Session {
                    id: Uuid::new_v4(),
                    application_id: Uuid::nil(),
                    organization_id: Uuid::nil(),
                    name: format!("s{i}"),
                    status: if i % 2 == 0 {
                        SessionStatus::Active
                    } else {
                        SessionStatus::Disconnected
                    },
                    token_expires_at: None,
                    last_active_at: None,
                    connected_at: None,
                    disconnected_at: None,
                    created_at: at,
                    hostname: None,
                    user_agent: None,
                    client_info: None,
                    last_seen_at: None,
                    disconnect_reason: None,
                }
            })
            .collect()
    }

    /// A read of `sessions` that ended at the last of them.
    fn read(
        page: &mut ReadAhead,
        sessions: Vec<Session>,
        exhausted: bool,
        keep: impl Fn(&Session) -> bool,
        weight: impl Fn(&Session) -> usize,
        time_left: bool,
    ) -> Step {
        let last = sessions.last().map(Session::position);
        page.absorb(sessions, last, exhausted, keep, weight, time_left)
    }

    fn active(s: &Session) -> bool {
        s.status == SessionStatus::Active
    }

    fn small(_: &Session) -> usize {
        100
    }

    #[test]
    fn an_unfiltered_full_read_is_one_round_trip_with_a_probe() {
        let mut page = ReadAhead::new(3);
        assert_eq!(page.first_read(), 5, "limit + probe + application item");
        let batch = sessions(5, 1_000);
        let ids: Vec<Uuid> = batch.iter().map(|s| s.id).collect();
        assert_eq!(
            read(&mut page, batch, false, |_| true, small, true),
            Step::Done
        );
        let (page, next) = page.finish();
        assert_eq!(page.iter().map(|s| s.id).collect::<Vec<_>>(), ids[..3]);
        assert_eq!(
            next,
            page.last().map(Session::position),
            "the probe found a fourth"
        );
    }

    #[test]
    fn exactly_limit_items_left_means_no_cursor() {
        let mut page = ReadAhead::new(3);
        assert_eq!(
            read(&mut page, sessions(3, 1_000), true, |_| true, small, true),
            Step::Done
        );
        let (page, next) = page.finish();
        assert_eq!(page.len(), 3);
        assert_eq!(next, None);
    }

    #[test]
    fn a_dropping_filter_reads_on_after_the_last_item_seen_in_growing_chunks() {
        let mut page = ReadAhead::new(10);
        let first = sessions(12, 1_000_000);
        let last_seen = first.last().map(Session::position).expect("some");
        // Half match: 6 of the 11 wanted.
        let step = read(&mut page, first, false, active, small, true);
        assert_eq!(
            step,
            Step::Fetch {
                after: last_seen,
                size: 48
            },
            "after the last item read, matching or not, four times larger"
        );
        let mut sizes = vec![];
        for _ in 0..4 {
            match read(&mut page, sessions(1, 0), false, |_| false, small, true) {
                Step::Fetch { size, .. } => sizes.push(size),
                Step::Done => panic!("nothing matched, the partition goes on"),
            }
        }
        assert_eq!(
            sizes,
            [192, 768, MAX_CHUNK, MAX_CHUNK],
            "capped at one page"
        );
    }

    #[test]
    fn an_exhausted_partition_ends_the_page_short() {
        let mut page = ReadAhead::new(10);
        assert_eq!(
            read(&mut page, sessions(4, 1_000), true, active, small, true),
            Step::Done
        );
        let (page, next) = page.finish();
        assert_eq!(page.len(), 2);
        assert_eq!(next, None);
        // An empty read with a continuation (all filtered at the store) also ends it.
        let mut empty = ReadAhead::new(10);
        assert_eq!(
            empty.absorb(Vec::new(), None, false, active, small, true),
            Step::Done
        );
    }

    #[test]
    fn matches_across_reads_fill_the_page_and_the_probe() {
        let mut page = ReadAhead::new(2);
        assert!(matches!(
            read(&mut page, sessions(2, 1_000), false, active, small, true),
            Step::Fetch { .. }
        ));
        assert_eq!(
            read(&mut page, sessions(4, 500), false, active, small, true),
            Step::Done
        );
        let (page, next) = page.finish();
        assert_eq!(page.len(), 2);
        assert!(next.is_some(), "a third match was seen");
    }

    #[test]
    fn out_of_time_ends_the_page_with_a_cursor_after_everything_read() {
        let mut page = ReadAhead::new(10);
        let batch = sessions(6, 1_000);
        let last_read = batch.last().map(Session::position);
        assert_eq!(
            read(&mut page, batch, false, active, small, false),
            Step::Done
        );
        let (page, next) = page.finish();
        assert_eq!(page.len(), 3, "what matched so far");
        assert_eq!(
            next, last_read,
            "the next page skips nothing and repeats nothing"
        );
    }

    #[test]
    fn a_skipped_last_item_still_moves_the_read_on() {
        let mut page = ReadAhead::new(10);
        let batch = sessions(3, 1_000);
        let beyond = Position {
            created_at_ms: 990,
            id: Uuid::new_v4(),
        };
        let step = page.absorb(batch, Some(beyond), false, active, small, true);
        assert!(matches!(step, Step::Fetch { after, .. } if after == beyond));
    }

    #[test]
    fn a_page_stops_before_its_bytes_run_out_with_a_cursor_after_the_last_that_fits() {
        let mut page = ReadAhead::new(100);
        let batch = sessions(20, 1_000);
        let heavy = |_: &Session| MAX_PAGE_BYTES / 4;
        assert_eq!(
            read(&mut page, batch, false, |_| true, heavy, true),
            Step::Done
        );
        let (page, next) = page.finish();
        assert_eq!(page.len(), 4, "four quarters fit, the fifth would not");
        assert_eq!(next, page.last().map(Session::position));
        // One session larger than the whole budget is still returned alone, not looped on.
        let mut single = ReadAhead::new(100);
        let huge = |_: &Session| MAX_PAGE_BYTES * 2;
        read(&mut single, sessions(3, 1_000), false, |_| true, huge, true);
        let (page, next) = single.finish();
        assert_eq!(page.len(), 1);
        assert!(next.is_some());
    }
}
