//! Filling one page of a list: how far to read ahead while the filter drops items, and when to
//! stop. Pure (no I/O): the handler runs the reads this asks for, so the loop's rules are
//! unit-tested here without an engine.

use crate::model::{Position, Session};

/// The largest query a filtered list issues while looking for matches (about one DynamoDB
/// response page of session items).
pub const MAX_CHUNK: i32 = 1000;
/// How much larger each further read is than the one before while the filter drops items.
const GROWTH: i32 = 4;

/// What to do next.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Read up to `size` more items after `after`.
    Fetch { after: Position, size: i32 },
    /// The page is decided; [`ReadAhead::finish`] gives it.
    Done,
}

/// One page being filled: `limit` matching sessions, plus one more read to learn whether more
/// remain (that one is never returned, only reported as `more`).
#[derive(Debug)]
pub struct ReadAhead {
    limit: usize,
    size: i32,
    matched: Vec<Session>,
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
        }
    }

    /// The size of the first read.
    pub fn first_read(&self) -> i32 {
        self.size
    }

    /// Takes one read's sessions (in order), keeping those `keep` accepts, and says what next:
    /// done once the page and its one-extra probe are full or the partition is exhausted,
    /// else a larger read after the last item seen (matching or not).
    pub fn absorb(
        &mut self,
        sessions: Vec<Session>,
        exhausted: bool,
        keep: impl Fn(&Session) -> bool,
    ) -> Step {
        let last = sessions.last().map(Session::position);
        self.matched
            .extend(sessions.into_iter().filter(|s| keep(s)));
        if self.matched.len() > self.limit || exhausted {
            return Step::Done;
        }
        let Some(after) = last else {
            return Step::Done;
        };
        self.size = self.size.saturating_mul(GROWTH).min(MAX_CHUNK);
        Step::Fetch {
            after,
            size: self.size,
        }
    }

    /// The page (at most `limit` sessions) and whether more match after it.
    pub fn finish(mut self) -> (Vec<Session>, bool) {
        let more = self.matched.len() > self.limit;
        self.matched.truncate(self.limit);
        (self.matched, more)
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
                }
            })
            .collect()
    }

    fn active(s: &Session) -> bool {
        s.status == SessionStatus::Active
    }

    #[test]
    fn an_unfiltered_full_read_is_one_round_trip_with_a_probe() {
        let mut page = ReadAhead::new(3);
        assert_eq!(page.first_read(), 5, "limit + probe + application item");
        let read = sessions(5, 1_000);
        let ids: Vec<Uuid> = read.iter().map(|s| s.id).collect();
        assert_eq!(page.absorb(read, false, |_| true), Step::Done);
        let (page, more) = page.finish();
        assert_eq!(page.iter().map(|s| s.id).collect::<Vec<_>>(), ids[..3]);
        assert!(more, "the probe found a fourth");
    }

    #[test]
    fn exactly_limit_items_left_means_no_more() {
        let mut page = ReadAhead::new(3);
        assert_eq!(page.absorb(sessions(3, 1_000), true, |_| true), Step::Done);
        let (page, more) = page.finish();
        assert_eq!(page.len(), 3);
        assert!(!more);
    }

    #[test]
    fn a_dropping_filter_reads_on_after_the_last_item_seen_in_growing_chunks() {
        let mut page = ReadAhead::new(10);
        let first = sessions(12, 1_000_000);
        let last_seen = first.last().map(Session::position).expect("some");
        // Half match: 6 of the 11 wanted.
        let step = page.absorb(first, false, active);
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
            match page.absorb(sessions(1, 0), false, |_| false) {
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
        assert_eq!(page.absorb(sessions(4, 1_000), true, active), Step::Done);
        let (page, more) = page.finish();
        assert_eq!(page.len(), 2);
        assert!(!more);
        // An empty read with a continuation (all filtered at the store) also ends it.
        let mut empty = ReadAhead::new(10);
        assert_eq!(empty.absorb(Vec::new(), false, active), Step::Done);
    }

    #[test]
    fn matches_across_reads_fill_the_page_and_the_probe() {
        let mut page = ReadAhead::new(2);
        assert!(matches!(
            page.absorb(sessions(2, 1_000), false, active),
            Step::Fetch { .. }
        ));
        assert_eq!(page.absorb(sessions(4, 500), false, active), Step::Done);
        let (page, more) = page.finish();
        assert_eq!(page.len(), 2);
        assert!(more, "a third match was seen");
    }
}
