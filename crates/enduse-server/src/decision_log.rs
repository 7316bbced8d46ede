//! The decisions the server answers, appended to the database's audit log
//! before the answer is sent, so that each answer carries its log index.
//!
//! One thread owns an [`enduse::Audit`] handle and appends what the
//! requests hand it: the entries waiting when it wakes are appended
//! together, in one transaction, so that many concurrent decisions cost one
//! write. A request is answered only once that transaction is committed
//! (durable: `synchronous = FULL` on SQLite), so a crash loses no answered
//! decision.
//!
//! Checkpoints are signed on a timer rather than per group: at most
//! [`CHECKPOINT_EVERY`] after the first entry no checkpoint covers, or
//! once [`CHECKPOINT_ENTRIES`] are uncovered, when the server stops, and
//! at start for what a killed server left uncovered. An Ed25519 signature
//! and its row were most of the cost of a small group. Entries not yet
//! covered are still in the tree and checked by `verify` (which counts
//! them as `unsigned_entries`); a proof asked for meanwhile signs a
//! checkpoint on demand.

use crate::error::{Result, ServerError};
use enduse::{Audit, AuditEntry};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Most entries appended in one transaction.
const MAX_GROUP: usize = 4096;

/// Longest time an appended entry waits for a signed checkpoint.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Most entries appended before a checkpoint is signed, whatever the time.
pub(crate) const CHECKPOINT_ENTRIES: u64 = 10_000;

type Reply<T> = tokio::sync::oneshot::Sender<std::result::Result<T, String>>;

enum Job {
    Append {
        entries: Vec<AuditEntry>,
        reply: Reply<u64>,
    },
    /// Sign a checkpoint of everything appended so far; replies with its
    /// size.
    Checkpoint { reply: Reply<u64> },
}

/// A handle on the appending thread; it stops when the last handle is
/// dropped, after signing a checkpoint of what it appended.
pub(crate) struct DecisionLog {
    tx: mpsc::Sender<Job>,
}

impl DecisionLog {
    /// Opens the audit log of `target` and starts the thread.
    pub(crate) fn start(target: &str) -> Result<DecisionLog> {
        Self::start_with(target, CHECKPOINT_EVERY, CHECKPOINT_ENTRIES)
    }

    /// [`DecisionLog::start`] with another checkpoint interval and count.
    pub(crate) fn start_with(target: &str, every: Duration, entries: u64) -> Result<DecisionLog> {
        let mut audit = Audit::open(target)?;
        // Fails now, not at the first decision, if the log cannot be read;
        // and covers what a killed server appended but never signed.
        audit.sign()?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("enduse-audit".into())
            .spawn(move || {
                Appender {
                    audit,
                    every,
                    max_unsigned: entries,
                    unsigned: 0,
                    deadline: None,
                }
                .run(rx)
            })
            .map_err(|e| ServerError::Internal(format!("cannot start the audit thread: {e}")))?;
        Ok(DecisionLog { tx })
    }

    /// Appends `entries`; returns the index of the first once they are
    /// committed.
    pub(crate) async fn append(&self, entries: Vec<AuditEntry>) -> Result<u64> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Job::Append { entries, reply }, rx).await
    }

    /// Signs a checkpoint of every entry appended so far (the server calls
    /// it when it stops); returns the log's size.
    pub(crate) async fn checkpoint(&self) -> Result<u64> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Job::Checkpoint { reply }, rx).await
    }

    async fn send(
        &self,
        job: Job,
        rx: tokio::sync::oneshot::Receiver<std::result::Result<u64, String>>,
    ) -> Result<u64> {
        self.tx
            .send(job)
            .map_err(|_| ServerError::Internal("the audit thread has stopped".into()))?;
        match rx.await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(message)) => Err(enduse::Error::new(
                "enduse::audit::append",
                enduse::ErrorKind::Io,
                message,
                None,
            )
            .into()),
            Err(_) => Err(ServerError::Internal("the audit thread has stopped".into())),
        }
    }
}

struct Appender {
    audit: Audit,
    every: Duration,
    max_unsigned: u64,
    /// Entries appended since the last checkpoint this thread signed.
    unsigned: u64,
    /// When those must be signed.
    deadline: Option<Instant>,
}

impl Appender {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        loop {
            let job = match self.deadline {
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            };
            match job {
                Ok(Job::Append { entries, reply }) => self.append_group(&rx, entries, reply),
                Ok(Job::Checkpoint { reply }) => {
                    let _ = reply.send(self.sign());
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.sign();
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if self.unsigned >= self.max_unsigned
                || self.deadline.is_some_and(|d| Instant::now() >= d)
            {
                let _ = self.sign();
            }
        }
        if self.unsigned > 0 {
            let _ = self.sign();
        }
        // Dropped here, on this thread (a PostgreSQL client must not be
        // dropped on the server's runtime).
        drop(self);
    }

    /// Appends the entries of `first` and of the jobs waiting behind it in
    /// one transaction, and answers each job once it is committed.
    fn append_group(
        &mut self,
        rx: &mpsc::Receiver<Job>,
        first: Vec<AuditEntry>,
        reply: Reply<u64>,
    ) {
        let mut all = first;
        let mut replies = vec![(reply, all.len() as u64)];
        let mut checkpoints = Vec::new();
        while all.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Job::Append { entries, reply }) => {
                    replies.push((reply, entries.len() as u64));
                    all.extend(entries);
                }
                // Answered after the group, so that it covers the group.
                Ok(Job::Checkpoint { reply }) => checkpoints.push(reply),
                Err(_) => break,
            }
        }
        match self.audit.append_unsigned(&all) {
            Ok(first) => {
                if self.unsigned == 0 && !all.is_empty() {
                    self.deadline = Some(Instant::now() + self.every);
                }
                self.unsigned += all.len() as u64;
                let mut at = first;
                for (reply, count) in replies {
                    let _ = reply.send(Ok(at));
                    at += count;
                }
            }
            Err(e) => {
                eprintln!("enduse-server: appending to the audit log failed: {e}");
                for (reply, _) in replies {
                    let _ = reply.send(Err(
                        "the decision could not be logged in the audit log, so it is not answered; try again"
                            .to_owned(),
                    ));
                }
            }
        }
        for reply in checkpoints {
            let _ = reply.send(self.sign());
        }
    }

    /// Signs a checkpoint of the log's current size.
    fn sign(&mut self) -> std::result::Result<u64, String> {
        match self.audit.sign() {
            Ok(a) => {
                self.unsigned = 0;
                self.deadline = None;
                Ok(a.size)
            }
            Err(e) => {
                eprintln!("enduse-server: signing an audit checkpoint failed: {e}");
                // Tried again at the next entry's deadline.
                self.deadline = Some(Instant::now() + self.every);
                Err("the audit log's checkpoint could not be signed; try again".to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use enduse::VerifyReport;
    use serde_json::json;

    fn entry(i: u64) -> AuditEntry {
        AuditEntry::decision(
            &json!({"actor": "UA", "n": i}),
            &json!({"decision": "PERMIT"}),
            None,
        )
    }

    fn verify(db: &str) -> VerifyReport {
        let mut a = Audit::open_read_only(db).unwrap();
        let v = a.verify(None).unwrap();
        assert!(v.ok, "{v:?}");
        v
    }

    /// Polls (the checkpoint is signed by the appending thread on its own
    /// time) until `done` holds of the verified log, for at most a minute.
    fn until(db: &str, done: impl Fn(&VerifyReport) -> bool) -> VerifyReport {
        for _ in 0..600 {
            let v = verify(db);
            if done(&v) {
                return v;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("never: {:?}", verify(db));
    }

    fn temp_db() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("log.db").to_str().unwrap().to_owned();
        Audit::open(&db).unwrap().sign().unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn an_answered_entry_is_committed_before_its_checkpoint() {
        let (_dir, db) = temp_db();
        let log = DecisionLog::start_with(&db, Duration::from_secs(3600), u64::MAX).unwrap();
        let first = log.append(vec![entry(0), entry(1)]).await.unwrap();
        let third = log.append(vec![entry(2)]).await.unwrap();
        assert_eq!(third, first + 2);
        // Readable from another connection as soon as the index is known,
        // checked by verify, and not yet covered by a signature.
        let v = verify(&db);
        assert_eq!(v.entries, first + 3);
        assert_eq!(v.unsigned_entries, 3, "{v:?}");
        assert_eq!(v.latest_checkpoint, Some(first));
        let mut a = Audit::open_read_only(&db).unwrap();
        assert_eq!(a.entry(first + 1).unwrap().body["ask"]["n"], 1);
        // A checkpoint asked for covers everything appended.
        assert_eq!(log.checkpoint().await.unwrap(), first + 3);
        let v = verify(&db);
        assert_eq!(
            (v.unsigned_entries, v.latest_checkpoint),
            (0, Some(first + 3))
        );
    }

    #[tokio::test]
    async fn the_timer_signs_a_checkpoint_over_what_was_appended() {
        let (_dir, db) = temp_db();
        let log = DecisionLog::start_with(&db, Duration::from_millis(20), u64::MAX).unwrap();
        let mut last = 0;
        for i in 0..5 {
            last = log.append(vec![entry(i)]).await.unwrap();
        }
        let v = until(&db, |v| v.latest_checkpoint == Some(last + 1));
        assert_eq!(v.unsigned_entries, 0);
        drop(log);
    }

    #[tokio::test]
    async fn a_count_of_entries_signs_a_checkpoint_without_the_timer() {
        let (_dir, db) = temp_db();
        let log = DecisionLog::start_with(&db, Duration::from_secs(3600), 4).unwrap();
        let first = log.append(vec![entry(0), entry(1)]).await.unwrap();
        until(&db, |v| v.entries == first + 2);
        assert_eq!(verify(&db).latest_checkpoint, Some(first));
        log.append(vec![entry(2), entry(3)]).await.unwrap();
        until(&db, |v| v.latest_checkpoint == Some(first + 4));
        drop(log);
    }

    #[tokio::test]
    async fn the_last_handle_dropped_signs_what_was_appended() {
        let (_dir, db) = temp_db();
        let log = DecisionLog::start_with(&db, Duration::from_secs(3600), u64::MAX).unwrap();
        let first = log
            .append(vec![entry(0), entry(1), entry(2)])
            .await
            .unwrap();
        assert_eq!(verify(&db).unsigned_entries, 3);
        drop(log);
        until(&db, |v| v.latest_checkpoint == Some(first + 3));
    }

    #[test]
    fn starting_signs_what_a_killed_server_left_unsigned() {
        let (_dir, db) = temp_db();
        let mut a = Audit::open(&db).unwrap();
        let first = a.append_unsigned(&[entry(0), entry(1)]).unwrap();
        drop(a);
        assert_eq!(verify(&db).unsigned_entries, 2);
        let log = DecisionLog::start_with(&db, Duration::from_secs(3600), u64::MAX).unwrap();
        let v = verify(&db);
        assert_eq!(
            (v.unsigned_entries, v.latest_checkpoint),
            (0, Some(first + 2))
        );
        drop(log);
    }
}
