//! The decisions the server answers, appended to the database's audit log
//! before the answer is sent, so that each answer carries its log index.
//!
//! One thread owns an [`enduse::Audit`] handle and appends what the
//! requests hand it: the entries waiting when it wakes are appended
//! together, in one transaction with one signed checkpoint, so that many
//! concurrent decisions cost one write.

use crate::error::{Result, ServerError};
use enduse::{Audit, AuditEntry};
use std::sync::mpsc;

/// Most entries appended in one transaction.
const MAX_GROUP: usize = 4096;

struct Job {
    entries: Vec<AuditEntry>,
    reply: tokio::sync::oneshot::Sender<std::result::Result<u64, String>>,
}

/// A handle on the appending thread; it stops when the last handle is
/// dropped.
pub(crate) struct DecisionLog {
    tx: mpsc::Sender<Job>,
}

impl DecisionLog {
    /// Opens the audit log of `target` and starts the thread.
    pub(crate) fn start(target: &str) -> Result<DecisionLog> {
        let mut audit = Audit::open(target)?;
        // Fails now, not at the first decision, if the log cannot be read.
        audit.size()?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("enduse-audit".into())
            .spawn(move || run(audit, rx))
            .map_err(|e| ServerError::Internal(format!("cannot start the audit thread: {e}")))?;
        Ok(DecisionLog { tx })
    }

    /// Appends `entries`; returns the index of the first.
    pub(crate) async fn append(&self, entries: Vec<AuditEntry>) -> Result<u64> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Job { entries, reply })
            .map_err(|_| ServerError::Internal("the audit thread has stopped".into()))?;
        match rx.await {
            Ok(Ok(first)) => Ok(first),
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

fn run(mut audit: Audit, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        let mut n = jobs[0].entries.len();
        while n < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => {
                    n += j.entries.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let mut all = Vec::with_capacity(n);
        let mut counts = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        for j in jobs {
            counts.push(j.entries.len() as u64);
            all.extend(j.entries);
            replies.push(j.reply);
        }
        match audit.append(&all) {
            Ok(a) => {
                let mut at = a.first;
                for (reply, count) in replies.into_iter().zip(counts) {
                    let _ = reply.send(Ok(at));
                    at += count;
                }
            }
            Err(e) => {
                eprintln!("enduse-server: appending to the audit log failed: {e}");
                for reply in replies {
                    let _ = reply.send(Err(
                        "the decision could not be logged in the audit log, so it is not answered; try again"
                            .to_owned(),
                    ));
                }
            }
        }
    }
    // Dropped here, on this thread (a PostgreSQL client must not be
    // dropped on the server's runtime).
    drop(audit);
}
