//! Builds the engine (`runtime/engine`, QuickJS in Rust) for `wasm32-wasip1` with a nested
//! cargo, and hands the `.wasm` to the host crate through `OUT_DIR`. The host never links
//! QuickJS natively: the only way it runs JavaScript is this WebAssembly module.
//!
//! Needs the `wasm32-wasip1` rustup target and a clang that can target Wasm with Debian's
//! wasi-libc headers (`apt-get install clang-19 wasi-libc`); see the README's set-up command.

use sha2::Digest;
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip1";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let runtime_dir = manifest_dir.parent().unwrap().to_path_buf();
    let root = runtime_dir.parent().unwrap().to_path_buf();
    let engine_dir = runtime_dir.join("engine");
    for watched in [
        engine_dir.join("src"),
        engine_dir.join("build.rs"),
        engine_dir.join("Cargo.toml"),
        engine_dir.join("Cargo.lock"),
        runtime_dir.join("abi/src"),
        runtime_dir.join("url/src"),
        runtime_dir.join("url/Cargo.toml"),
        root.join("polyfills"),
    ] {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    for var in [
        "CC_wasm32_wasip1",
        "AR_wasm32_wasip1",
        "CFLAGS_wasm32_wasip1",
        "WISP_ENGINE_WASM",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let out = out_dir.join("wisp_engine.wasm");
    build_engine(&root, &engine_dir, &out);
    // Every cache key includes the engine's hash; computing it here spares each start of
    // `wisp` hashing (and paging in) the 2 MB module it usually never reads.
    let engine = std::fs::read(&out).unwrap_or_else(|e| panic!("reading {}: {e}", out.display()));
    let hash: [u8; 32] = sha2::Sha256::digest(&engine).into();
    std::fs::write(out_dir.join("wisp_engine.sha256"), hash)
        .unwrap_or_else(|e| panic!("writing the engine's hash: {e}"));
}

/// Puts the engine at `out`: the one `WISP_ENGINE_WASM` names, or one built from `engine_dir`.
fn build_engine(root: &Path, engine_dir: &Path, out: &Path) {
    // An engine built elsewhere (e.g. by a packaging step) may be supplied instead.
    if let Ok(prebuilt) = env::var("WISP_ENGINE_WASM") {
        std::fs::copy(&prebuilt, out)
            .unwrap_or_else(|e| panic!("copying WISP_ENGINE_WASM={prebuilt}: {e}"));
        return;
    }

    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("engine");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(engine_dir)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(&target_dir)
        // The outer build's flags are for the host, not for the Wasm guest.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        // rquickjs-sys would otherwise download wasi-sdk; the system clang does the job.
        .env("RQUICKJS_SYS_NO_WASI_SDK", "1");
    if env::var_os("CC_wasm32_wasip1").is_none() {
        let cc = find_tool(&[
            "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14", "clang",
        ])
        .unwrap_or_else(|| {
            panic!(
                "building the Wisp engine needs clang for wasm32 (apt-get install clang-19 \
                     wasi-libc), or CC_wasm32_wasip1 set to such a compiler"
            )
        });
        cmd.env("CC_wasm32_wasip1", cc);
    }
    if env::var_os("AR_wasm32_wasip1").is_none()
        && let Some(ar) = find_tool(&[
            "llvm-ar-19",
            "llvm-ar-18",
            "llvm-ar-17",
            "llvm-ar-16",
            "llvm-ar-15",
            "llvm-ar-14",
            "llvm-ar",
        ])
    {
        cmd.env("AR_wasm32_wasip1", ar);
    }
    let mut cflags = env::var("CFLAGS_wasm32_wasip1").unwrap_or_default();
    if cflags.is_empty() {
        // Debian installs the wasi-libc headers under `wasm32-wasi`; clang looks under
        // `wasm32-wasip1` and would silently fall back to glibc's.
        let headers = Path::new("/usr/include/wasm32-wasi");
        if headers.is_dir() {
            cflags = format!("-isystem {}", headers.display());
        } else {
            println!(
                "cargo:warning=/usr/include/wasm32-wasi not found: install Debian's wasi-libc \
                 or set CFLAGS_wasm32_wasip1 to point clang at wasi-libc headers"
            );
        }
    }
    // QuickJS without its small-block arenas: every block comes from the engine's allocator
    // (`runtime/engine/src/js_alloc.rs`), which lays a request's blocks out in order. The
    // macro is the switch quickjs.c offers for that (it is otherwise set by AddressSanitizer
    // builds; nothing else in QuickJS reads it).
    cflags.push_str(" -D__SANITIZE_ADDRESS__");
    cmd.env("CFLAGS_wasm32_wasip1", cflags);
    let status = cmd
        .status()
        .expect("running cargo to build the Wisp engine for wasm32-wasip1");
    assert!(
        status.success(),
        "building the Wisp engine (runtime/engine) for {TARGET} failed; is the target installed \
         (rustup target add {TARGET})?"
    );
    let built = target_dir
        .join(TARGET)
        .join("release")
        .join("wisp_engine.wasm");
    std::fs::copy(&built, out).unwrap_or_else(|e| panic!("copying {}: {e}", built.display()));
}

fn find_tool(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        })
        .map(|c| (*c).to_owned())
}
