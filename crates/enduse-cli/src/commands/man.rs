//! `enduse man`: the man pages, made at build from the same argument
//! definitions (see build.rs).

use super::Ctx;
use crate::args::ManArgs;
use enduse::{Error, Result};

include!(concat!(env!("OUT_DIR"), "/man_pages.rs"));

pub fn run(a: ManArgs, ctx: &mut Ctx) -> Result<i32> {
    match &a.out {
        None => {
            let top = PAGES.first().map(|(_, text)| *text).unwrap_or_default();
            ctx.print(top);
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, &e))?;
            let mut names = Vec::new();
            for (name, text) in PAGES {
                let path = dir.join(name);
                std::fs::write(&path, text).map_err(|e| Error::io("write", &path, &e))?;
                names.push(*name);
            }
            let report = serde_json::json!({"out": dir, "pages": names});
            ctx.emit(&report, |_| {
                format!("wrote {} pages to {}\n", names.len(), dir.display())
            });
        }
    }
    Ok(0)
}
