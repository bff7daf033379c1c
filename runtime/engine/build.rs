//! Link settings of the engine module: the size of its shadow stack, which the ABI defines
//! (`wisp_abi::ENGINE_STACK_BYTES`: the host reports its overflow and the benchmarks its cost).
//! And the polyfills, deflated into `OUT_DIR` for `src/init.rs` to embed.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    deflate_polyfills();
    println!(
        "cargo:rustc-link-arg=-zstack-size={}",
        wisp_abi::ENGINE_STACK_BYTES
    );
}

/// Writes `OUT_DIR/polyfills/NAME.deflate` for every `polyfills/NAME.js`.
fn deflate_polyfills() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../polyfills");
    println!("cargo:rerun-if-changed={}", dir.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("polyfills");
    std::fs::create_dir_all(&out).expect("creating OUT_DIR/polyfills");
    for entry in std::fs::read_dir(&dir).expect("reading polyfills/") {
        let path = entry.expect("reading polyfills/").path();
        if path.extension().is_none_or(|e| e != "js") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read(&path).expect("reading a polyfill");
        let deflated = miniz_oxide::deflate::compress_to_vec(&text, 10);
        let name = path.file_name().unwrap().to_str().unwrap();
        std::fs::write(out.join(format!("{name}.deflate")), deflated)
            .expect("writing a deflated polyfill");
    }
}
