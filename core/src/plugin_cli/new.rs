//! `weir plugin new`: a plugin project from a template that builds as it
//! stands. The SDK and the WIT it was built against are copied into the
//! project's `.weir/` (embedded in this binary), so a project builds
//! offline and against the contract of the broker that made it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::project::{Manifest, MANIFEST};
use weir::config::plugins::KINDS;

/// The languages `new` has templates for.
const LANGS: &[&str] = &["rust", "c", "zig", "python", "javascript", "assemblyscript"];

/// The Rust SDK and WIT, as this broker was built with them.
const SDK_FILES: &[(&str, &str)] = &[
    (
        "wit/weir-plugin.wit",
        include_str!("../../../wit/weir-plugin.wit"),
    ),
    (
        "sdk/rust/Cargo.toml",
        include_str!("../../../sdk/rust/Cargo.toml"),
    ),
    (
        "sdk/rust/src/lib.rs",
        include_str!("../../../sdk/rust/src/lib.rs"),
    ),
    (
        "sdk/rust/src/batch.rs",
        include_str!("../../../sdk/rust/src/batch.rs"),
    ),
    (
        "sdk/rust/src/hash.rs",
        include_str!("../../../sdk/rust/src/hash.rs"),
    ),
    (
        "sdk/rust/src/partitioner.rs",
        include_str!("../../../sdk/rust/src/partitioner.rs"),
    ),
    (
        "sdk/rust/src/interceptor.rs",
        include_str!("../../../sdk/rust/src/interceptor.rs"),
    ),
    (
        "sdk/rust/src/fetch.rs",
        include_str!("../../../sdk/rust/src/fetch.rs"),
    ),
    (
        "sdk/rust/src/policy.rs",
        include_str!("../../../sdk/rust/src/policy.rs"),
    ),
    (
        "sdk/rust/src/auth.rs",
        include_str!("../../../sdk/rust/src/auth.rs"),
    ),
    (
        "sdk/rust/src/serializer.rs",
        include_str!("../../../sdk/rust/src/serializer.rs"),
    ),
];

/// The C SDK (Zig uses it too): the helpers, and the bindings of each world.
const C_SDK: &[(&str, &str)] = &[
    (
        "sdk/c/weir_plugin.h",
        include_str!("../../../sdk/c/weir_plugin.h"),
    ),
    (
        "sdk/c/weir_hash.h",
        include_str!("../../../sdk/c/weir_hash.h"),
    ),
    (
        "sdk/c/bindings/partitioner.h",
        include_str!("../../../sdk/c/bindings/partitioner.h"),
    ),
    (
        "sdk/c/bindings/partitioner.c",
        include_str!("../../../sdk/c/bindings/partitioner.c"),
    ),
    (
        "sdk/c/bindings/produce_interceptor.h",
        include_str!("../../../sdk/c/bindings/produce_interceptor.h"),
    ),
    (
        "sdk/c/bindings/produce_interceptor.c",
        include_str!("../../../sdk/c/bindings/produce_interceptor.c"),
    ),
    (
        "sdk/c/bindings/fetch_interceptor.h",
        include_str!("../../../sdk/c/bindings/fetch_interceptor.h"),
    ),
    (
        "sdk/c/bindings/fetch_interceptor.c",
        include_str!("../../../sdk/c/bindings/fetch_interceptor.c"),
    ),
    (
        "sdk/c/bindings/retention_policy.h",
        include_str!("../../../sdk/c/bindings/retention_policy.h"),
    ),
    (
        "sdk/c/bindings/retention_policy.c",
        include_str!("../../../sdk/c/bindings/retention_policy.c"),
    ),
    (
        "sdk/c/bindings/compaction_policy.h",
        include_str!("../../../sdk/c/bindings/compaction_policy.h"),
    ),
    (
        "sdk/c/bindings/compaction_policy.c",
        include_str!("../../../sdk/c/bindings/compaction_policy.c"),
    ),
    (
        "sdk/c/bindings/authenticator.h",
        include_str!("../../../sdk/c/bindings/authenticator.h"),
    ),
    (
        "sdk/c/bindings/authenticator.c",
        include_str!("../../../sdk/c/bindings/authenticator.c"),
    ),
    (
        "sdk/c/bindings/authorizer.h",
        include_str!("../../../sdk/c/bindings/authorizer.h"),
    ),
    (
        "sdk/c/bindings/authorizer.c",
        include_str!("../../../sdk/c/bindings/authorizer.c"),
    ),
    (
        "sdk/c/bindings/serializer.h",
        include_str!("../../../sdk/c/bindings/serializer.h"),
    ),
    (
        "sdk/c/bindings/serializer.c",
        include_str!("../../../sdk/c/bindings/serializer.c"),
    ),
];

const C_README: &str = include_str!("../../templates/c/README.md.tmpl");

fn c_source(kind: &str) -> &'static str {
    match kind {
        "partitioner" => include_str!("../../templates/c/partitioner.c"),
        "retention-policy" => include_str!("../../templates/c/retention-policy.c"),
        "compaction-policy" => include_str!("../../templates/c/compaction-policy.c"),
        "produce-interceptor" => include_str!("../../templates/c/produce-interceptor.c"),
        "authenticator" => include_str!("../../templates/c/authenticator.c"),
        "authorizer" => include_str!("../../templates/c/authorizer.c"),
        "serializer" => include_str!("../../templates/c/serializer.c"),
        _ => include_str!("../../templates/c/fetch-interceptor.c"),
    }
}

const ZIG_README: &str = include_str!("../../templates/zig/README.md.tmpl");

fn zig_source(kind: &str) -> &'static str {
    match kind {
        "partitioner" => include_str!("../../templates/zig/partitioner.zig"),
        "retention-policy" => include_str!("../../templates/zig/retention-policy.zig"),
        "compaction-policy" => include_str!("../../templates/zig/compaction-policy.zig"),
        "produce-interceptor" => include_str!("../../templates/zig/produce-interceptor.zig"),
        "authenticator" => include_str!("../../templates/zig/authenticator.zig"),
        "authorizer" => include_str!("../../templates/zig/authorizer.zig"),
        "serializer" => include_str!("../../templates/zig/serializer.zig"),
        _ => include_str!("../../templates/zig/fetch-interceptor.zig"),
    }
}

const PYTHON_SDK: &str = include_str!("../../../sdk/python/weir_plugin.py");
const PYTHON_README: &str = include_str!("../../templates/python/README.md.tmpl");

fn python_source(kind: &str) -> &'static str {
    match kind {
        "partitioner" => include_str!("../../templates/python/partitioner.py"),
        "retention-policy" => include_str!("../../templates/python/retention-policy.py"),
        "compaction-policy" => include_str!("../../templates/python/compaction-policy.py"),
        "produce-interceptor" => include_str!("../../templates/python/produce-interceptor.py"),
        "authenticator" => include_str!("../../templates/python/authenticator.py"),
        "authorizer" => include_str!("../../templates/python/authorizer.py"),
        "serializer" => include_str!("../../templates/python/serializer.py"),
        _ => include_str!("../../templates/python/fetch-interceptor.py"),
    }
}

const JS_SDK: &str = include_str!("../../../sdk/javascript/weir_plugin.js");
const JS_PACKAGE: &str = include_str!("../../templates/javascript/package.json.tmpl");
const JS_README: &str = include_str!("../../templates/javascript/README.md.tmpl");

fn javascript_source(kind: &str) -> &'static str {
    match kind {
        "partitioner" => include_str!("../../templates/javascript/partitioner.js"),
        "retention-policy" => include_str!("../../templates/javascript/retention-policy.js"),
        "compaction-policy" => include_str!("../../templates/javascript/compaction-policy.js"),
        "produce-interceptor" => include_str!("../../templates/javascript/produce-interceptor.js"),
        "authenticator" => include_str!("../../templates/javascript/authenticator.js"),
        "authorizer" => include_str!("../../templates/javascript/authorizer.js"),
        "serializer" => include_str!("../../templates/javascript/serializer.js"),
        _ => include_str!("../../templates/javascript/fetch-interceptor.js"),
    }
}

/// The AssemblyScript SDK: weir.ts for plugins, the hand-written
/// canonical-ABI glue, and each world's exports.
const AS_SDK: &[(&str, &str)] = &[
    (
        "weir.ts",
        include_str!("../../../sdk/assemblyscript/weir.ts"),
    ),
    ("abi.ts", include_str!("../../../sdk/assemblyscript/abi.ts")),
    (
        "lift.ts",
        include_str!("../../../sdk/assemblyscript/lift.ts"),
    ),
    (
        "partitioner.ts",
        include_str!("../../../sdk/assemblyscript/partitioner.ts"),
    ),
    (
        "produce-interceptor.ts",
        include_str!("../../../sdk/assemblyscript/produce-interceptor.ts"),
    ),
    (
        "fetch-interceptor.ts",
        include_str!("../../../sdk/assemblyscript/fetch-interceptor.ts"),
    ),
    (
        "policy.ts",
        include_str!("../../../sdk/assemblyscript/policy.ts"),
    ),
    (
        "retention-policy.ts",
        include_str!("../../../sdk/assemblyscript/retention-policy.ts"),
    ),
    (
        "compaction-policy.ts",
        include_str!("../../../sdk/assemblyscript/compaction-policy.ts"),
    ),
    (
        "auth.ts",
        include_str!("../../../sdk/assemblyscript/auth.ts"),
    ),
    (
        "authenticator.ts",
        include_str!("../../../sdk/assemblyscript/authenticator.ts"),
    ),
    (
        "authorizer.ts",
        include_str!("../../../sdk/assemblyscript/authorizer.ts"),
    ),
    (
        "schema.ts",
        include_str!("../../../sdk/assemblyscript/schema.ts"),
    ),
    (
        "serializer.ts",
        include_str!("../../../sdk/assemblyscript/serializer.ts"),
    ),
];
const AS_PACKAGE: &str = include_str!("../../templates/assemblyscript/package.json.tmpl");
const AS_TSCONFIG: &str = include_str!("../../templates/assemblyscript/tsconfig.json");
const AS_README: &str = include_str!("../../templates/assemblyscript/README.md.tmpl");

fn assemblyscript_source(kind: &str) -> &'static str {
    match kind {
        "partitioner" => include_str!("../../templates/assemblyscript/partitioner.ts"),
        "retention-policy" => include_str!("../../templates/assemblyscript/retention-policy.ts"),
        "compaction-policy" => {
            include_str!("../../templates/assemblyscript/compaction-policy.ts")
        }
        "produce-interceptor" => {
            include_str!("../../templates/assemblyscript/produce-interceptor.ts")
        }
        "authenticator" => include_str!("../../templates/assemblyscript/authenticator.ts"),
        "authorizer" => include_str!("../../templates/assemblyscript/authorizer.ts"),
        "serializer" => include_str!("../../templates/assemblyscript/serializer.ts"),
        _ => include_str!("../../templates/assemblyscript/fetch-interceptor.ts"),
    }
}

const RUST_CARGO: &str = include_str!("../../templates/rust/Cargo.toml.tmpl");
const RUST_README: &str = include_str!("../../templates/rust/README.md.tmpl");

fn rust_source(kind: &str) -> &'static str {
    match kind {
        "partitioner" => include_str!("../../templates/rust/partitioner.rs"),
        "retention-policy" => include_str!("../../templates/rust/retention-policy.rs"),
        "compaction-policy" => include_str!("../../templates/rust/compaction-policy.rs"),
        "produce-interceptor" => include_str!("../../templates/rust/produce-interceptor.rs"),
        "authenticator" => include_str!("../../templates/rust/authenticator.rs"),
        "authorizer" => include_str!("../../templates/rust/authorizer.rs"),
        "serializer" => include_str!("../../templates/rust/serializer.rs"),
        _ => include_str!("../../templates/rust/fetch-interceptor.rs"),
    }
}

pub fn create(name: &str, lang: &str, kind: &str, dir: Option<PathBuf>) -> anyhow::Result<()> {
    weir::plugin::name::check(name).map_err(anyhow::Error::msg)?;
    // The name also names the project's package in every language.
    if name.contains('.') || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        bail!("plugin name {name:?}: a new project's name starts with a letter and has no '.'");
    }
    if !KINDS.contains(&kind) {
        bail!("unknown kind {kind:?}: one of {}", KINDS.join(", "));
    }
    if !LANGS.contains(&lang) {
        bail!(
            "no template for {lang:?} yet: `weir plugin new` makes {}",
            LANGS.join(", ")
        );
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let artifact = match lang {
        "rust" => format!(
            "target/wasm32-wasip2/release/{}.wasm",
            name.replace('-', "_")
        ),
        _ => format!("target/{name}.wasm"),
    };
    let binding = weir::config::plugins::binding_of(kind).unwrap_or("weir.interceptors.fetch");
    let binding_hint = if matches!(kind, "authenticator" | "authorizer") {
        format!("the broker config `{binding}={name}` (weir.toml; the plugin itself is swapped while the broker runs)")
    } else {
        format!("a topic config (`{binding}={name}`) from any Kafka admin tool")
    };
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{kind}}", kind)
            .replace("{{artifact}}", &artifact)
            .replace("{{binding_hint}}", &binding_hint)
            .replace("{{binding}}", binding)
    };
    let manifest = Manifest {
        name: name.to_string(),
        kind: kind.to_string(),
        lang: lang.to_string(),
        artifact: PathBuf::from(&artifact),
        config: Default::default(),
    };
    write(&dir, MANIFEST, &toml::to_string(&manifest)?)?;
    write(&dir, ".gitignore", "/target\n/node_modules\n")?;
    let weir = dir.join(".weir");
    write(&weir, SDK_FILES[0].0, SDK_FILES[0].1)?; // the WIT
    if lang == "assemblyscript" {
        write(
            &dir,
            "assembly/index.ts",
            &fill(assemblyscript_source(kind)),
        )?;
        write(&dir, "package.json", &fill(AS_PACKAGE))?;
        write(&dir, "tsconfig.json", AS_TSCONFIG)?;
        write(&dir, "README.md", &fill(AS_README))?;
        for (path, text) in AS_SDK {
            write(&weir, &format!("sdk/assemblyscript/{path}"), text)?;
        }
    } else if lang == "javascript" {
        write(&dir, "src/app.js", &fill(javascript_source(kind)))?;
        write(&dir, "package.json", &fill(JS_PACKAGE))?;
        write(&dir, "README.md", &fill(JS_README))?;
        write(&weir, "sdk/javascript/weir_plugin.js", JS_SDK)?;
    } else if lang == "python" {
        write(&dir, "src/app.py", &fill(python_source(kind)))?;
        write(&dir, "README.md", &fill(PYTHON_README))?;
        write(&weir, "sdk/python/weir_plugin.py", PYTHON_SDK)?;
    } else if lang == "rust" {
        write(&dir, "Cargo.toml", &fill(RUST_CARGO))?;
        write(&dir, "src/lib.rs", &fill(rust_source(kind)))?;
        write(&dir, "README.md", &fill(RUST_README))?;
        for (path, text) in &SDK_FILES[1..] {
            write(&weir, path, text)?;
        }
    } else {
        if lang == "c" {
            write(&dir, "src/plugin.c", &fill(c_source(kind)))?;
            write(&dir, "README.md", &fill(C_README))?;
        } else {
            write(&dir, "src/plugin.zig", &fill(zig_source(kind)))?;
            write(&dir, "README.md", &fill(ZIG_README))?;
        }
        let world = super::build::world_file(kind);
        for (path, text) in C_SDK {
            if !path.contains("bindings/") || path.contains(&format!("bindings/{world}.")) {
                write(&weir, path, text)?;
            }
        }
    }
    println!("created {} ({kind}, {lang}) in {}", name, dir.display());
    println!(
        "next: cd {} && weir plugin build && weir plugin test",
        dir.display()
    );
    Ok(())
}

fn write(dir: &Path, path: &str, text: &str) -> anyhow::Result<()> {
    let path = dir.join(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::SDK_FILES;

    /// Every file of the Rust SDK is embedded: a module left out would
    /// break every new Rust project's build.
    #[test]
    fn the_whole_rust_sdk_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk/rust/src");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let path = format!("sdk/rust/src/{name}");
            assert!(
                SDK_FILES.iter().any(|(p, _)| *p == path),
                "{path} is not embedded in SDK_FILES"
            );
        }
    }
}
