//! `enduse gen`: writes a synthetic data set of any size, for benchmarks and
//! load tests. The output is an ordinary data-set directory, so everything
//! that reads data sets (validate, import, check) reads it too.

use crate::error::{Error, Result};
use crate::reports::GenReport;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// The shape of a synthetic register. The default is small (1,000
/// transfers); a load test names its sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GenSpec {
    /// Number of state parties (`P0000`...).
    pub parties: usize,
    /// Number of item models (`M00000`...).
    pub models: usize,
    /// Number of transfers; lots get one to three transfers each.
    pub transfers: usize,
    /// Number of rules, spread over parties and 2022-2025.
    pub policies: usize,
    /// Seed of the pseudo-random choices: the same seed gives the same files.
    pub seed: u64,
}

impl Default for GenSpec {
    fn default() -> Self {
        GenSpec {
            parties: 20,
            models: 100,
            transfers: 1_000,
            policies: 200,
            seed: 1,
        }
    }
}

/// A small deterministic generator (xorshift64*): no dependency, and the same
/// data set on every machine for a given seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const CATEGORIES: usize = 12;
const DAY0: i64 = 738_520; // 2022-01-01 as days from 0001-01-01 (CE)
const SPAN_DAYS: usize = 4 * 365;

fn day(offset: usize) -> String {
    chrono::NaiveDate::from_num_days_from_ce_opt((DAY0 as usize + offset) as i32)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "2022-01-01".into())
}

/// Writes the data set into `dir` (created if missing), calling `progress`
/// with the work done and the work in all.
pub fn generate(dir: &Path, spec: GenSpec, progress: &dyn Fn(u64, u64)) -> Result<GenReport> {
    write(dir, spec, progress).map_err(|e| Error::io("write", dir, &e))?;
    Ok(GenReport {
        data_set: dir.display().to_string(),
        parties: spec.parties.max(3),
        models: spec.models.max(1),
        transfers: spec.transfers,
        rules: spec.policies,
        seed: spec.seed,
    })
}

fn write(dir: &Path, spec: GenSpec, progress: &dyn Fn(u64, u64)) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("policies"))?;
    let mut rng = Rng(spec.seed.max(1));
    let parties = spec.parties.max(3);
    let models = spec.models.max(1);
    let total = (spec.transfers + spec.policies) as u64;
    let mut done = 0u64;

    std::fs::write(
        dir.join("dataset.toml"),
        format!(
            "name = \"synthetic-{}\"\ntitle = \"Synthetic register: {} parties, {} models, {} transfers, {} rules (seed {})\"\n",
            spec.seed, parties, models, spec.transfers, spec.policies, spec.seed
        ),
    )?;
    std::fs::write(
        dir.join("schema.cedarschema"),
        enduse_load::bundled_files()
            .get("schema.cedarschema")
            .unwrap_or_default(),
    )?;
    std::fs::write(
        dir.join("sources.toml"),
        "[[source]]\nid = \"gen\"\noutlet = \"enduse gen\"\ndate = \"2022-01-01\"\ntitle = \"Synthetic data\"\n",
    )?;
    let mut s = String::new();
    for p in 0..parties {
        let _ = writeln!(
            s,
            "[[party]]\nid = \"P{p:04}\"\nname = \"Party {p}\"\nkind = \"state\"\nauthorities = [{{ name = \"Gov\", title = \"Government\" }}]\n"
        );
    }
    std::fs::write(dir.join("parties.toml"), &s)?;
    s.clear();
    s.push_str("[[place]]\ncode = \"UA\"\nname = \"Ukraine\"\nkind = \"country\"\n\n[[place]]\ncode = \"RU\"\nname = \"Russia\"\nkind = \"country\"\n\n");
    for (c, parent) in [
        ("UA-63", "UA"),
        ("UA-43", "UA"),
        ("RU-BEL", "RU"),
        ("RU-KRS", "RU"),
    ] {
        let _ = writeln!(
            s,
            "[[place]]\ncode = \"{c}\"\nname = \"{c}\"\nkind = \"subdivision\"\nparent = \"{parent}\"\n"
        );
    }
    std::fs::write(dir.join("places.toml"), &s)?;
    s.clear();
    for c in 0..CATEGORIES {
        let _ = writeln!(
            s,
            "[[category]]\nid = \"C{c:02}\"\nname = \"Category {c}\"\n"
        );
    }
    for m in 0..models {
        let origin = rng.below(parties);
        let cat = rng.below(CATEGORIES);
        let _ = write!(
            s,
            "[[model]]\nid = \"M{m:05}\"\nname = \"Model {m}\"\ncategory = \"C{cat:02}\"\norigin = \"P{origin:04}\"\n"
        );
        if rng.below(10) == 0 {
            let provider = rng.below(parties);
            let _ = writeln!(
                s,
                "dependencies = [{{ kind = \"data\", what = \"targeting data\", provider = \"P{provider:04}\" }}]"
            );
        }
        s.push('\n');
    }
    std::fs::write(dir.join("models.toml"), &s)?;

    // Lots and transfers: each lot leaves its model's origin and may pass on.
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("transfers.toml"))?);
    let mut t = 0usize;
    let mut lot = 0usize;
    let mut model_origin: Vec<usize> = Vec::new();
    {
        // Re-derive each model's origin with a second generator seeded the same
        // way would be fragile; parse it back from what was written instead.
        let text = std::fs::read_to_string(dir.join("models.toml"))?;
        for line in text.lines() {
            if let Some(o) = line.strip_prefix("origin = \"P") {
                model_origin.push(o.trim_end_matches('"').parse().unwrap_or(0));
            }
        }
    }
    while t < spec.transfers {
        let m = rng.below(models);
        let mut holder = model_origin.get(m).copied().unwrap_or(0);
        writeln!(
            f,
            "[[lot]]\nid = \"L{lot:07}\"\nmodel = \"M{m:05}\"\nquantity = {}\n",
            1 + rng.below(200)
        )?;
        let hops = 1 + rng.below(3);
        let mut date = rng.below(SPAN_DAYS / 2);
        for _ in 0..hops {
            if t >= spec.transfers {
                break;
            }
            let mut to = rng.below(parties);
            if to == holder {
                to = (to + 1) % parties;
            }
            writeln!(
                f,
                "[[transfer]]\nid = \"T{t:07}\"\nlot = \"L{lot:07}\"\nfrom = \"P{holder:04}\"\nto = \"P{to:04}\"\nstages = [{{ stage = \"delivered\", date = \"{}\" }}]\n",
                day(date)
            )?;
            holder = to;
            date += 1 + rng.below(200);
            t += 1;
            done += 1;
            if done.is_multiple_of(50_000) {
                progress(done, total);
            }
        }
        lot += 1;
    }
    f.flush()?;

    // Rules: a restriction, a permission or an approval requirement on one
    // model or category, valid for a window of the four years.
    let mut files: Vec<String> = vec![String::new(); parties];
    for r in 0..spec.policies {
        let owner = rng.below(parties);
        let out = &mut files[owner];
        let from = rng.below(SPAN_DAYS - 60);
        let to = from + 30 + rng.below(SPAN_DAYS - from - 30);
        let recorded = from + rng.below(60);
        let res = if rng.below(4) == 0 {
            format!("Category::\"C{:02}\"", rng.below(CATEGORIES))
        } else {
            format!("Model::\"M{:05}\"", rng.below(models))
        };
        let action = ["use", "transfer", "reexport", "deploy"][rng.below(4)];
        let _ = write!(
            out,
            "@id(\"g{r:06}\")\n@summary(\"synthetic rule {r}\")\n@valid_from(\"{}\")\n",
            day(from)
        );
        if rng.below(3) != 0 {
            let _ = writeln!(out, "@valid_to(\"{}\")", day(to));
        }
        let _ = write!(
            out,
            "@recorded_at(\"{}\")\n@source(\"gen\")\n@quote(\"synthetic\")\n",
            day(recorded)
        );
        match rng.below(3) {
            0 => {
                let _ = writeln!(
                    out,
                    "forbid (principal, action == Action::\"{action}\", resource in {res})\nunless {{ context.place in Place::\"UA\" }};\n"
                );
            }
            1 => {
                let _ = writeln!(
                    out,
                    "permit (principal, action == Action::\"{action}\", resource in {res})\nwhen {{ context.place in Place::\"UA\" }};\n"
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "@approval(\"P{owner:04}:Gov\")\nforbid (principal, action == Action::\"{action}\", resource in {res})\nwhen {{ context.place in Place::\"RU\" }}\nunless {{ context.approvals.contains(\"P{owner:04}:Gov\") }};\n"
                );
            }
        }
        done += 1;
        if done.is_multiple_of(50_000) {
            progress(done, total);
        }
    }
    for (p, text) in files.iter().enumerate() {
        if !text.is_empty() {
            std::fs::write(dir.join(format!("policies/P{p:04}.cedar")), text)?;
        }
    }
    progress(total, total);
    Ok(())
}
