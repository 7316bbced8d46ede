//! `enduse audit verify|checkpoint|prove|export`: the database's
//! tamper-evident log, or an exported one checked offline against a
//! trusted key.

use super::Ctx;
use crate::args::AuditCommand;
use enduse::{Audit, Error, LogExport, Result, VerifyReport};
use std::path::Path;

fn read_export(f: &Path) -> Result<LogExport> {
    let text = std::fs::read_to_string(f).map_err(|e| Error::io("read", f, &e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::bad_request(
            "enduse::audit::bad_export",
            format!(
                "`{}` is not an exported log: {}",
                f.display(),
                enduse::cut(&e.to_string())
            ),
            "write one with `enduse audit export FILE`",
        )
    })
}

fn key_of(key: Option<String>) -> Result<String> {
    key.ok_or_else(|| {
        Error::bad_request(
            "enduse::usage",
            "an exported log is checked against a trusted key: give --key",
            "the key is printed by `enduse audit checkpoint` on the database",
        )
    })
}

/// The report, and exit 0 when it verified; else 1, with the first bad
/// entry named.
fn verified(report: &VerifyReport, ctx: &mut Ctx) -> i32 {
    if ctx.json() {
        ctx.emit(report, |_| String::new());
    } else if report.ok {
        ctx.print(&crate::render::verified(report));
    } else {
        let _ = ctx
            .err
            .write_all(crate::render::verified(report).as_bytes());
    }
    i32::from(!report.ok)
}

pub fn run(c: AuditCommand, ctx: &mut Ctx) -> Result<i32> {
    match c {
        AuditCommand::Verify(a) => {
            let report = if let Some(f) = &a.export {
                enduse::verify_export(&read_export(f)?, &key_of(a.key)?)?
            } else {
                Audit::open_read_only(&ctx.db_target())?.verify(a.key.as_deref())?
            };
            Ok(verified(&report, ctx))
        }
        AuditCommand::Checkpoint => {
            drop(enduse::Register::open_existing(&ctx.db_target())?);
            let cp = Audit::open(&ctx.db_target())?.checkpoint()?;
            ctx.emit(&cp, |c| {
                format!(
                    "{} entries, root {}\nkey: {}\n\n{}",
                    c.size, c.root, c.key, c.note
                )
            });
            Ok(0)
        }
        AuditCommand::Prove(a) => {
            let proof = if let Some(f) = &a.export {
                enduse::prove_export(&read_export(f)?, &key_of(a.key)?, a.index)?
            } else {
                let mut audit = Audit::open_read_only(&ctx.db_target())?;
                if let Some(k) = &a.key {
                    let report = audit.verify(Some(k))?;
                    if !report.ok {
                        return Ok(verified(&report, ctx));
                    }
                }
                audit.inclusion_proof(a.index, a.size)?
            };
            ctx.emit(&proof, crate::render::inclusion);
            Ok(0)
        }
        AuditCommand::Export(a) => {
            let export = Audit::open_read_only(&ctx.db_target())?.export()?;
            let text = serde_json::to_string_pretty(&export)
                .map_err(|e| Error::internal(e.to_string()))?;
            std::fs::write(&a.file, text + "\n").map_err(|e| Error::io("write", &a.file, &e))?;
            let report = serde_json::json!({
                "file": a.file.display().to_string(),
                "entries": export.entries.len(),
                "checkpoints": export.checkpoints.len(),
                "key": export.key,
            });
            ctx.emit(&report, |_| {
                format!(
                    "wrote {} entries and {} checkpoints to {}\nkey (verify against one obtained independently): {}\n",
                    export.entries.len(),
                    export.checkpoints.len(),
                    a.file.display(),
                    export.key
                )
            });
            Ok(0)
        }
    }
}
