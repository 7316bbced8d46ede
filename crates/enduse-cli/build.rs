//! Writes the man pages (`enduse.1` and one per command) from the same
//! argument definitions the binary parses, into `OUT_DIR/man`, and a list of
//! them that `enduse man` prints or installs.

use clap::CommandFactory;
use std::path::{Path, PathBuf};

#[allow(dead_code)]
mod args {
    include!("src/args.rs");
}

fn page(dir: &Path, name: &str, cmd: clap::Command) -> std::io::Result<PathBuf> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, buf)?;
    Ok(path)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=src/args.rs");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let dir = out.join("man");
    std::fs::create_dir_all(&dir)?;
    let cmd = args::Cli::command().version(env!("CARGO_PKG_VERSION"));
    let mut pages = vec![("enduse.1".to_owned(), page(&dir, "enduse", cmd.clone())?)];
    for sub in cmd.get_subcommands() {
        // A build script runs once: the few names it leaks are freed with it.
        let name: &'static str = Box::leak(format!("enduse-{}", sub.get_name()).into_boxed_str());
        let sub = sub.clone().name(name).version(env!("CARGO_PKG_VERSION"));
        pages.push((format!("{name}.1"), page(&dir, name, sub)?));
    }
    let mut rs = String::from("/// The man pages made at build: (file name, roff).\npub const PAGES: &[(&str, &str)] = &[\n");
    for (file, path) in &pages {
        rs.push_str(&format!(
            "    ({file:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    rs.push_str("];\n");
    std::fs::write(out.join("man_pages.rs"), rs)?;
    Ok(())
}
