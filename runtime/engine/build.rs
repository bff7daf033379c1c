//! Link settings of the engine module: the size of its shadow stack, which the ABI defines
//! (`wisp_abi::ENGINE_STACK_BYTES`: the host reports its overflow and the benchmarks its cost).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!(
        "cargo:rustc-link-arg=-zstack-size={}",
        wisp_abi::ENGINE_STACK_BYTES
    );
}
