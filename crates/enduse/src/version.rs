//! The version of the bundled data set: its name, the date of its latest
//! source, and a digest of its files, so that two builds with different data
//! can be told apart.

use serde::Serialize;

/// Which data set a build carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataSetVersion {
    /// The data set's name (`dataset.toml`).
    pub name: String,
    /// The latest date any of its sources carries (`YYYY-MM-DD`).
    pub latest_source: Option<String>,
    /// FNV-1a (64 bits) of every file's name and content, in name order, as
    /// 16 hex digits.
    pub digest: String,
    /// Number of rules.
    pub rules: usize,
}

impl std::fmt::Display for DataSetVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)?;
        if let Some(d) = &self.latest_source {
            write!(f, ", sources up to {d}")?;
        }
        write!(f, ", {} rules, digest {}", self.rules, self.digest)
    }
}

/// FNV-1a, 64 bits.
fn fnv(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

/// The version of the files of a data set, given as (name, text) pairs.
pub fn data_set_version<'a>(files: impl Iterator<Item = (&'a str, &'a str)>) -> DataSetVersion {
    let mut files: Vec<(&str, &str)> = files.collect();
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut name = String::from("unnamed");
    let mut latest: Option<String> = None;
    let mut rules = 0;
    for (file, text) in &files {
        fnv(&mut hash, file.as_bytes());
        fnv(&mut hash, &[0]);
        fnv(&mut hash, text.as_bytes());
        fnv(&mut hash, &[0]);
        if *file == "dataset.toml" {
            if let Some(n) = text.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("name")
                    .and_then(|r| r.trim_start().strip_prefix('='))
                    .map(|v| v.trim().trim_matches('"').to_owned())
            }) {
                name = n;
            }
        }
        if *file == "sources.toml" {
            for l in text.lines() {
                let Some(v) = l
                    .trim()
                    .strip_prefix("date")
                    .and_then(|r| r.trim_start().strip_prefix('='))
                else {
                    continue;
                };
                // The last day a source's date (or range) names.
                let v = v.trim().trim_matches('"');
                let last = v.rsplit("..").next().unwrap_or(v).trim();
                if last.len() >= 4 && latest.as_deref().is_none_or(|x| last > x) {
                    latest = Some(last.to_owned());
                }
            }
        }
        if file.starts_with("policies/") {
            rules += text.matches("@id(").count();
        }
    }
    DataSetVersion {
        name,
        latest_source: latest,
        digest: format!("{hash:016x}"),
        rules,
    }
}

/// The version of the data set bundled into this build.
pub fn bundled_data_version() -> DataSetVersion {
    let files = enduse_load::bundled_files();
    data_set_version(files.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_reads_name_sources_and_content() {
        let a = data_set_version(
            [
                ("dataset.toml", "name = \"x\"\ntitle = \"y\"\n"),
                (
                    "sources.toml",
                    "[[source]]\ndate = \"2024-09\"\n[[source]]\ndate = \"2025-03-01..2025-06-20\"\n",
                ),
                ("policies/US.cedar", "@id(\"a\")\npermit(principal, action, resource);"),
            ]
            .into_iter(),
        );
        assert_eq!(a.name, "x");
        assert_eq!(a.latest_source.as_deref(), Some("2025-06-20"));
        assert_eq!(a.rules, 1);
        let b = data_set_version([("dataset.toml", "name = \"x\"\n")].into_iter());
        assert_ne!(a.digest, b.digest);
        assert_eq!(bundled_data_version().name, enduse_load::BUNDLED_NAME);
    }
}
