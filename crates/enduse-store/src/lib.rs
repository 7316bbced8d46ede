//! enduse store: the register kept in a database that never forgets.
//!
//! Every record (party, model, lot, transfer, rule, ...) is stored as a
//! sequence of immutable versions. Each version carries three times: its
//! valid time and public-knowledge time (from the record itself), and the
//! system time at which this database entered it. Nothing is updated in
//! place; a correction or a retraction is a new version. An engine can be
//! built from the database as it stood at any instant.
//!
//! Each import also stores an *image* of the register it leaves (the built
//! register in `enduse_load`'s binary form), keyed by its transaction:
//! [`open_register`] reads that one blob instead of every head, and falls
//! back to the records when there is no sound image of exactly the
//! transaction it reads as of.
//!
//! Backends: [`SqliteStore`] (the embedded default), [`PgStore`] (shared by
//! many processes) and [`MemStore`] (the reference). They implement one
//! [`Store`] trait and pass one conformance suite.
//!
//! ```
//! use enduse_store::{engine_at, import, open};
//! let mut store = open("memory:")?;
//! import(store.as_mut(), &enduse_load::bundled_files(), "init", &mut |_, _, _| {})?;
//! let engine = engine_at(store.as_mut(), None)?;
//! assert!(engine.rule(&enduse_core::RuleId::new("us-atacms-ukraine-only")).is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod audit_store;
mod mem;
mod model;
mod ops;
mod pg;
mod sqlite;
mod stream_import;

pub use audit_store::{audit_instant, expected_txn_entry, txn_digest, txn_entry, FactRow};
pub use mem::MemStore;
pub use model::{
    Change, ChangeSink, Expect, ImageCheck, Logged, Store, StoreError, TxnDigest, TxnInfo, Version,
    WorkflowChange, WorkflowKind, WorkflowRecord, WorkflowVersion, Written,
};
pub use ops::{
    engine_at, export_files, import, import_records, import_records_checked, open, open_read_only,
    open_register, prepare, put, records_at, retract, sqlite_path, ImportReport, Opened,
    OpenedFrom,
};
pub use pg::{PgStore, PG_MIGRATIONS};
pub use sqlite::{SqliteStore, MIGRATIONS};
pub use stream_import::{
    image_of_txn, import_streamed, PlannedChange, StreamInput, StreamOptions, StreamedImport,
};
