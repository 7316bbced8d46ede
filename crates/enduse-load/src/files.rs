//! The files of a data set, read from disk or from the bundled copy.

use crate::error::DataSetError;
use include_dir::{include_dir, Dir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

static BUNDLED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../data/ukraine-2022-2025");

/// Data-set files by relative path (`parties.toml`, `policies/US.cedar`).
#[derive(Debug, Clone, Default)]
pub struct DataFiles {
    /// Where the files came from, for messages.
    pub origin: String,
    files: BTreeMap<String, String>,
}

/// The largest data-set file accepted: a register file beyond this is a
/// mistake (or an attack), not a register.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

impl DataFiles {
    /// An in-memory data set (for tests and tools).
    pub fn from_map(origin: &str, files: BTreeMap<String, String>) -> Self {
        Self {
            origin: origin.to_owned(),
            files,
        }
    }

    /// Reads `*.toml`, `*.cedarschema`, `policies/*.cedar` and the control
    /// layer `control.json` (if any) from `dir`.
    pub fn read_dir(dir: &Path) -> Result<Self, DataSetError> {
        Self::read_dir_but(dir, None).map(|(files, _)| files)
    }

    /// [`DataFiles::read_dir`] of every file but `transfers.toml` (checked
    /// for its size like the others), whose path is returned to be read a
    /// table at a time (`crate::stream_records`): in a large data set it is
    /// nearly all of the data.
    pub fn read_dir_streaming(dir: &Path) -> Result<(Self, Option<PathBuf>), DataSetError> {
        Self::read_dir_but(dir, Some(crate::BULK_FILE))
    }

    fn read_dir_but(
        dir: &Path,
        skip: Option<&str>,
    ) -> Result<(Self, Option<PathBuf>), DataSetError> {
        let mut skipped = None;
        let io = |path: &Path, e: std::io::Error| DataSetError::Io {
            path: path.display().to_string(),
            message: e.to_string().to_lowercase(),
        };
        if !dir.is_dir() {
            return Err(DataSetError::Io {
                path: dir.display().to_string(),
                message: "not a directory".into(),
            });
        }
        let mut files = BTreeMap::new();
        let mut add = |rel: String, path: &Path| -> Result<(), DataSetError> {
            let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
            if meta.len() > MAX_FILE_BYTES {
                return Err(DataSetError::Io {
                    path: path.display().to_string(),
                    message: format!(
                        "file is {} bytes; the limit is {MAX_FILE_BYTES}",
                        meta.len()
                    ),
                });
            }
            if skip == Some(rel.as_str()) {
                skipped = Some(path.to_path_buf());
                return Ok(());
            }
            let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
            files.insert(rel, text);
            Ok(())
        };
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if path.is_file()
                && (name.ends_with(".toml")
                    || name.ends_with(".cedarschema")
                    || name == crate::CONTROL_FILE)
            {
                add(name, &path)?;
            }
        }
        let pol = dir.join("policies");
        if pol.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(&pol)
                .map_err(|e| io(&pol, e))?
                .filter_map(Result::ok)
                .collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let path = e.path();
                let name = e.file_name().to_string_lossy().to_string();
                if path.is_file() && name.ends_with(".cedar") {
                    add(format!("policies/{name}"), &path)?;
                }
            }
        }
        Ok((
            Self {
                origin: dir.display().to_string(),
                files,
            },
            skipped,
        ))
    }

    /// The text of a file, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.files.get(name).map(String::as_str)
    }

    /// The policy files, in name order.
    pub fn policy_files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files
            .iter()
            .filter(|(k, _)| k.starts_with("policies/"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// All files.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The data set compiled into the binary.
pub fn bundled_files() -> DataFiles {
    let mut files = BTreeMap::new();
    for f in BUNDLED.files() {
        if let Some(t) = f.contents_utf8() {
            files.insert(f.path().to_string_lossy().to_string(), t.to_owned());
        }
    }
    if let Some(d) = BUNDLED.get_dir("policies") {
        for f in d.files() {
            if let Some(t) = f.contents_utf8() {
                files.insert(f.path().to_string_lossy().replace('\\', "/"), t.to_owned());
            }
        }
    }
    DataFiles::from_map(&format!("bundled:{}", crate::BUNDLED_NAME), files)
}

impl DataFiles {
    /// Writes every file under `dir` (created if missing), `policies/` included.
    pub fn write_dir(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir.join("policies"))?;
        for (name, text) in &self.files {
            std::fs::write(dir.join(name), text)?;
        }
        Ok(())
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
