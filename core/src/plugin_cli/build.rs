//! `weir plugin build`: builds a plugin project with its language's
//! toolchain, saying exactly what to install when a piece is missing. Rust
//! builds a component itself; C is compiled to a core module with zig's C
//! compiler (PyPI `ziglang`) and made a component here: the project's WIT
//! embedded, and WASI preview1 imports adapted to the WASI the broker
//! links (which grants nothing).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};

use super::project::Project;

/// Builds the project; returns the component's path.
pub fn build(project: &Project) -> anyhow::Result<PathBuf> {
    match project.manifest.lang.as_str() {
        "rust" => build_rust(project)?,
        "c" => build_c(project)?,
        "zig" => build_zig(project)?,
        "python" => build_python(project)?,
        "javascript" => build_javascript(project)?,
        "assemblyscript" => build_assemblyscript(project)?,
        other => bail!("cannot build {other:?} plugins yet"),
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

/// The bindings' name for a kind's world (`produce-interceptor` →
/// `produce_interceptor`).
pub fn world_file(kind: &str) -> String {
    kind.replace('-', "_")
}

fn build_c(project: &Project) -> anyhow::Result<()> {
    let (world, sdk, stub) = prepare_c(project)?;
    let core = core_module_path(project);
    toolchain(
        Command::new("python3")
            .args([
                "-m",
                "ziglang",
                "cc",
                "--target=wasm32-wasi",
                "-O2",
                "-g0",
                "-s",
                "-mexec-model=reactor",
            ])
            .args(includes(&sdk))
            .arg(project.dir.join("src/plugin.c"))
            .arg(sdk.join("bindings").join(format!("{world}.c")))
            .arg(&stub)
            .arg("-o")
            .arg(&core),
        "zig cc",
    )?;
    finish_component(project, &core)
}

/// Zig uses the C SDK: its headers translated to a Zig module `weir`, the
/// bindings' C compiled alongside.
fn build_zig(project: &Project) -> anyhow::Result<()> {
    let (world, sdk, stub) = prepare_c(project)?;
    let target = project.dir.join("target");
    let header = target.join("weir.h");
    std::fs::write(
        &header,
        format!("#include \"{world}.h\"\n#include \"weir_plugin.h\"\n"),
    )?;
    let translated = Command::new("python3")
        .args([
            "-m",
            "ziglang",
            "translate-c",
            "-target",
            "wasm32-wasi",
            "-lc",
        ])
        .arg("-I")
        .arg(&sdk)
        .arg("-I")
        .arg(sdk.join("bindings"))
        .arg(&header)
        .output()
        .context("running zig translate-c")?;
    if !translated.status.success() {
        bail!(
            "zig translate-c failed: {}",
            String::from_utf8_lossy(&translated.stderr)
        );
    }
    let module = target.join("weir.zig");
    std::fs::write(&module, translated.stdout)?;
    let core = core_module_path(project);
    toolchain(
        Command::new("python3")
            .args([
                "-m",
                "ziglang",
                "build-exe",
                "-target",
                "wasm32-wasi",
                "-O",
                "ReleaseSmall",
            ])
            .args([
                "-fno-entry",
                "-rdynamic",
                "-mexec-model=reactor",
                "-lc",
                "-fstrip",
            ])
            .args(includes(&sdk))
            .arg(sdk.join("bindings").join(format!("{world}.c")))
            .arg(&stub)
            .args(["--dep", "weir"])
            .arg(format!(
                "-Mroot={}",
                project.dir.join("src/plugin.zig").display()
            ))
            .arg(format!("-Mweir={}", module.display()))
            .arg(format!("-femit-bin={}", core.display())),
        "zig build-exe",
    )?;
    finish_component(project, &core)
}

/// componentize-py bundles CPython, the plugin's `src/` and the SDK's
/// `weir_plugin.py` into a component of the kind's world.
fn build_python(project: &Project) -> anyhow::Result<()> {
    let found = Command::new("componentize-py").arg("--version").output();
    if !found.is_ok_and(|o| o.status.success()) {
        bail!("componentize-py is not installed: run `python3 -m pip install componentize-py`");
    }
    std::fs::create_dir_all(project.dir.join("target"))?;
    toolchain(
        Command::new("componentize-py")
            .arg("-d")
            .arg(project.dir.join(".weir/wit"))
            .args(["-w", &project.manifest.kind, "componentize", "app"])
            .arg("-p")
            .arg(project.dir.join("src"))
            .arg("-p")
            .arg(project.dir.join(".weir/sdk/python"))
            .arg("-o")
            .arg(project.artifact()),
        "componentize-py",
    )
}

/// componentize-js (the project's devDependency, installed with npm on
/// first use) bundles src/app.js with a JavaScript engine, with no WASI
/// features: the component imports nothing but `host`.
fn build_javascript(project: &Project) -> anyhow::Result<()> {
    npm_install(project, "componentize-js")?;
    let tool = project.dir.join("node_modules/.bin/componentize-js");
    std::fs::create_dir_all(project.dir.join("target"))?;
    toolchain(
        Command::new(&tool)
            .arg("--wit")
            .arg(project.dir.join(".weir/wit"))
            .args(["--world-name", &project.manifest.kind])
            .args(["-d", "stdio", "random", "clocks", "http", "fetch-event"])
            .arg("-o")
            .arg(project.artifact())
            .arg(project.dir.join("src/app.js")),
        "componentize-js",
    )
}

/// asc (the project's devDependency, installed with npm on first use)
/// compiles the SDK's file for the kind's world, which calls the project's
/// assembly/index.ts, to a core module that imports only `host`; it is made
/// a component here, as C's is. The `minimal` runtime collects garbage only
/// when the SDK asks (after each call); `abort` and `seed` go to the broker's
/// log and clock instead of the `env` imports asc would add.
fn build_assemblyscript(project: &Project) -> anyhow::Result<()> {
    npm_install(project, "asc")?;
    // asc runs in the project (the `--use` paths are its module paths).
    let dir = project.dir.canonicalize()?;
    std::fs::create_dir_all(dir.join("target"))?;
    let core = core_module_path(project);
    let sdk = ".weir/sdk/assemblyscript";
    toolchain(
        Command::new(dir.join("node_modules/.bin/asc"))
            .arg(format!("{sdk}/{}.ts", project.manifest.kind))
            .args(["--runtime", "minimal", "-O3"])
            .args(["--use", &format!("abort={sdk}/abi/abort")])
            .args(["--use", &format!("seed={sdk}/abi/seed")])
            .arg("-o")
            .arg(core.strip_prefix(&project.dir)?)
            .current_dir(&dir),
        "asc",
    )?;
    finish_component(project, &core)
}

/// Installs the project's npm devDependencies when `tool` is not there yet.
fn npm_install(project: &Project, tool: &str) -> anyhow::Result<()> {
    if project.dir.join("node_modules/.bin").join(tool).exists() {
        return Ok(());
    }
    let npm = Command::new("npm").arg("--version").output();
    if !npm.is_ok_and(|o| o.status.success()) {
        bail!(
            "npm is not installed: install Node.js (with npm) to build {} plugins",
            project.manifest.lang
        );
    }
    toolchain(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&project.dir),
        "npm install",
    )
}

/// Checks for zig and writes the stub the C bindings need: (world, the C
/// SDK's directory, the stub's path).
fn prepare_c(project: &Project) -> anyhow::Result<(String, PathBuf, PathBuf)> {
    let zig = Command::new("python3")
        .args(["-m", "ziglang", "version"])
        .output();
    if !zig.is_ok_and(|o| o.status.success()) {
        bail!("zig is not installed: run `python3 -m pip install ziglang`");
    }
    let world = world_file(&project.manifest.kind);
    std::fs::create_dir_all(project.dir.join("target"))?;
    // The bindings pull in wit-bindgen's type-information object by this
    // symbol; the WIT is embedded in finish_component instead, so an empty
    // one will do.
    let stub = project.dir.join("target/weir_component_type.c");
    std::fs::write(
        &stub,
        format!("void __component_type_object_force_link_{world}(void) {{}}\n"),
    )?;
    Ok((world, project.dir.join(".weir/sdk/c"), stub))
}

/// The C SDK's include flags.
fn includes(sdk: &std::path::Path) -> [std::ffi::OsString; 4] {
    [
        "-I".into(),
        sdk.into(),
        "-I".into(),
        sdk.join("bindings").into(),
    ]
}

fn core_module_path(project: &Project) -> PathBuf {
    project
        .dir
        .join("target")
        .join(format!("{}.core.wasm", project.manifest.name))
}

/// Runs a toolchain command; its output goes to the user.
fn toolchain(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

fn finish_component(project: &Project, core: &std::path::Path) -> anyhow::Result<()> {
    let module = std::fs::read(core)?;
    let component = componentize(
        module,
        &project.dir.join(".weir/wit"),
        &project.manifest.kind,
    )?;
    std::fs::write(project.artifact(), component)?;
    Ok(())
}

/// A core module exporting `world` of the WIT in `wit` (its imports WASI
/// preview1 at most) as a component.
pub fn componentize(
    mut module: Vec<u8>,
    wit: &std::path::Path,
    world: &str,
) -> anyhow::Result<Vec<u8>> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_path(wit)?;
    let world = resolve.select_world(&[package], Some(world))?;
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )?;
    wit_component::ComponentEncoder::default()
        .module(&module)?
        .adapter(
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .validate(true)
        .encode()
        .context("making a component of the compiled module")
}
