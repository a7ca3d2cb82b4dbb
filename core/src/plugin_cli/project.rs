//! A plugin project: a directory with a `weir-plugin.toml` naming the
//! plugin, its kind and language (and config values for `weir plugin
//! test`), as `weir plugin new` writes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "weir-plugin.toml";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub kind: String,
    pub lang: String,
    /// The built component, relative to the project.
    pub artifact: PathBuf,
    /// The plugin's config values for `weir plugin test` (a broker takes
    /// them from its `[[plugins]]` entry).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

pub struct Project {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Project {
    pub fn open(dir: &Path) -> anyhow::Result<Project> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a plugin project (no {MANIFEST}; `weir plugin new` makes one)",
                dir.display()
            )
        })?;
        let manifest =
            toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        Ok(Project {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    pub fn artifact(&self) -> PathBuf {
        self.dir.join(&self.manifest.artifact)
    }

    /// The built component, or an error saying to build it first.
    pub fn built_artifact(&self) -> anyhow::Result<PathBuf> {
        let path = self.artifact();
        anyhow::ensure!(
            path.exists(),
            "{} is not built yet: run `weir plugin build` in {}",
            path.display(),
            self.dir.display()
        );
        Ok(path)
    }
}
