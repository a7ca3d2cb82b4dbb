//! The C SDK's bindings (sdk/c/bindings) are generated from wit/ with
//! wit-bindgen and committed, so a C plugin author needs no generator.
//! This test regenerates them and fails when the committed ones differ;
//! `WEIR_BLESS=1 cargo test --test sdk_bindings` rewrites them.

use std::path::PathBuf;

use wit_bindgen_core::wit_parser::Resolve;
use wit_bindgen_core::Files;

/// Every plugin kind is a world of the same name.
use weir::config::plugins::KINDS as WORLDS;

#[test]
fn c_bindings_are_generated_from_the_wit() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_path(root.join("wit")).expect("the WIT parses");
    let bless = std::env::var_os("WEIR_BLESS").is_some();
    let mut stale = Vec::new();
    for world in WORLDS {
        let id = resolve
            .select_world(&[package], Some(world))
            .expect("a world");
        let mut files = Files::default();
        // The broker embeds the WIT when it builds the component, so the
        // object file wit-bindgen would add for that is not needed.
        let opts = wit_bindgen_c::Opts {
            no_object_file: true,
            ..Default::default()
        };
        opts.build()
            .generate(&mut resolve, id, &mut files)
            .expect("generates");
        for (name, contents) in files.iter() {
            let path = root.join("sdk/c/bindings").join(name);
            if bless {
                std::fs::write(&path, contents).unwrap();
            } else if std::fs::read(&path).ok().as_deref() != Some(contents) {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "out of date with wit/ (run WEIR_BLESS=1 cargo test --test sdk_bindings): {stale:?}"
    );
}
