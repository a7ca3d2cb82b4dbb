//! `weir plugin build`: builds a plugin project with its language's
//! toolchain, saying exactly what to install when a piece is missing.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};

use super::project::Project;

/// Builds the project; returns the component's path.
pub fn build(project: &Project) -> anyhow::Result<PathBuf> {
    match project.manifest.lang.as_str() {
        "rust" => build_rust(project)?,
        other => bail!("cannot build {other:?} plugins yet (rust can be built)"),
    }
    let artifact = project.built_artifact()?;
    let bytes = std::fs::read(&artifact)?;
    println!(
        "built {} ({} bytes, sha256 {})",
        artifact.display(),
        bytes.len(),
        weir::plugin::engine::content_hash(&bytes)
    );
    Ok(artifact)
}

fn build_rust(project: &Project) -> anyhow::Result<()> {
    if Command::new("cargo").arg("--version").output().is_err() {
        bail!("cargo is not installed: install Rust from https://rustup.rs, then `rustup target add wasm32-wasip2`");
    }
    // rustup knows which targets are installed; without rustup, cargo's
    // own error below says it.
    if let Ok(out) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    {
        let installed = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && !installed.lines().any(|l| l.trim() == "wasm32-wasip2") {
            bail!("Rust's wasm32-wasip2 target is not installed: run `rustup target add wasm32-wasip2`");
        }
    }
    let status = Command::new("cargo")
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(&project.dir)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    Ok(())
}
