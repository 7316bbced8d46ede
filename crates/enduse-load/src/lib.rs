//! enduse loader: reads a data set (TOML register files, Cedar policy files
//! and a Cedar schema) from a directory or from the copy bundled into the
//! binary, and builds an [`enduse_core::Engine`].
//!
//! Every problem is reported with its file, line and span; a data set with
//! any problem yields no engine at all.
//!
//! ```
//! use enduse_core::{parse_day, Action, ItemRef, Outcome, Query};
//!
//! let engine = enduse_load::load_bundled()?;
//! let q = Query {
//!     actor: engine.resolve_party("UA")?,
//!     action: Action::Use,
//!     item: ItemRef::Model(engine.resolve_model("ATACMS")?),
//!     place: Some(engine.resolve_place("RU-KRS")?),
//!     recipient: None,
//!     target_class: None,
//!     purpose: None,
//!     destination: None,
//!     statuses: Default::default(),
//!     border_distance_km: None,
//!     areas: None,
//!     controlled_by: None,
//!     as_of: parse_day("2024-09-11")?,
//!     known_at: parse_day("2025-01-01")?,
//!     approvals: vec![],
//! };
//! let d = engine.decide(&q)?;
//! assert_eq!(d.outcome, Outcome::Forbid);
//! assert!(d.parties[0].rules.iter().any(|r| r.id.as_str() == "us-atacms-ukraine-only"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod files;
mod image;
mod records;
mod report;
mod stream;
mod toml_model;

pub use error::{DataSetError, FileProblem};
pub use files::{bundled_files, DataFiles};
pub use image::{
    bundled_files_digest, check_image, encode_image, engine_for_digest, engine_for_files,
    engine_from_image, files_digest, image_from_records, image_of_engine, image_writer_for_records,
    seal_for_files, ImageError, ImageWriter,
};
pub use records::{
    check_key, control_json, control_records, derive_times, engine_from_records,
    engine_from_trusted_records, files_from_records, record_from_text, records_from_files, Record,
    RecordKind,
};
pub use report::record_index;
pub use stream::{stream_records, Held, StreamSummary, Streamed, BULK_FILE};

use enduse_core::{Engine, PartyId, Problem};
use std::path::Path;

/// The control layer of a data set directory (optional): who controls which
/// area when. Its format is `enduse-geo`'s; the loader only stores it.
pub const CONTROL_FILE: &str = "control.json";

/// Name of the data set bundled into the binary.
pub const BUNDLED_NAME: &str = "ukraine-2022-2025";

/// Loads and validates a data set directory.
pub fn load_dir(dir: &Path) -> Result<Engine, DataSetError> {
    let files = DataFiles::read_dir(dir)?;
    load_files(&files)
}

/// Loads the data set bundled into the binary.
pub fn load_bundled() -> Result<Engine, DataSetError> {
    load_files(&bundled_files())
}

/// Loads a data set from files already in memory.
pub fn load_files(files: &DataFiles) -> Result<Engine, DataSetError> {
    let mut problems: Vec<Problem> = Vec::new();
    let raw = toml_model::read_raw(files, &mut problems);
    build(files, raw, problems, enduse_core::Checks::Full, None)
}

/// Parses every policy file of `files`; every problem of every file.
pub(crate) fn parse_policy_files(
    files: &DataFiles,
) -> Result<Vec<enduse_core::Rule>, Vec<Problem>> {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for (name, text) in files.policy_files() {
        let owner = PartyId::new(policy_owner(name));
        match enduse_core::parse_rules(&owner, name, text) {
            Ok(mut r) => rules.append(&mut r),
            Err(mut e) => problems.append(&mut e),
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(problems)
    }
}

/// The owner of the rules in a policy file: `policies/US.cedar` and
/// `policies/US.storm-shadow.cedar` both hold rules of `US`, so that a
/// party's rules can be split by subject.
pub(crate) fn policy_owner(name: &str) -> &str {
    let stem = name
        .trim_start_matches("policies/")
        .trim_end_matches(".cedar");
    stem.split('.').next().unwrap_or(stem)
}

/// Converts the raw register, parses the policy files of `files` and builds
/// the engine; `problems` already holds those found while reading.
pub(crate) fn build(
    files: &DataFiles,
    raw: toml_model::Raw,
    mut problems: Vec<Problem>,
    checks: enduse_core::Checks,
    prebuilt: Option<Vec<enduse_core::Rule>>,
) -> Result<Engine, DataSetError> {
    let register = toml_model::convert(raw, &mut problems);
    let rules = match prebuilt {
        Some(r) => r,
        None => match parse_policy_files(files) {
            Ok(r) => r,
            Err(mut e) => {
                problems.append(&mut e);
                Vec::new()
            }
        },
    };
    let schema = files.get("schema.cedarschema");
    if schema.is_none() {
        problems.push(Problem::new(
            enduse_core::Origin::File {
                file: "schema.cedarschema".into(),
                span: None,
            },
            "the data set has no `schema.cedarschema`".into(),
        ));
    }
    // With parse problems, rule and schema checks would only add noise
    // (every reference to a broken rule fails too), so stop before them.
    if !problems.is_empty() {
        // Still report broken references, so one run lists every problem;
        // but not when a file could not be read at all: every reference
        // into it would be reported as unknown, burying the cause.
        let unreadable = problems
            .iter()
            .any(|p| p.message.starts_with("invalid toml"));
        if !unreadable {
            problems.extend(enduse_core::check_register(&register));
        }
        return Err(DataSetError::from_problems(files, problems));
    }
    let Some(schema) = schema else {
        return Err(DataSetError::from_problems(files, problems));
    };
    Engine::with_checks(register, rules, schema, checks)
        .map_err(|p| DataSetError::from_problems(files, p))
}
