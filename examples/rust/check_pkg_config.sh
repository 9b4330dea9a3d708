#!/usr/bin/env bash
# Installs the built tree into a temporary prefix and, with worker-cuda-sys
# finding the library through pkg-config alone (no WORKER_CUDA_LIB_DIR) and
# no LD_LIBRARY_PATH:
#  - runs the Rust error tests (their rpath comes from pkg-config's libdir);
#  - builds a downstream program the way the worker-cuda crate documents it
#    (a build.rs that turns DEP_WORKER_CUDA_LIB_DIR into an rpath) and runs it.
#
#   check_pkg_config.sh BUILD_DIR CMAKE CARGO CARGO_TARGET_DIR
set -euo pipefail
build=$1 cmake=$2 cargo=$3
export CARGO_TARGET_DIR=$4
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
"$cmake" --install "$build" --prefix "$work/prefix" >/dev/null
pc=$(find "$work/prefix" -name worker_cuda.pc | head -n1)
unset WORKER_CUDA_LIB_DIR WORKER_CUDA_INCLUDE_DIR LD_LIBRARY_PATH
export PKG_CONFIG_PATH=$(dirname "$pc")
cd "$here"
"$cargo" test --offline --test errors

# A downstream binary crate.
app="$work/app"
mkdir -p "$app/src" "$app/.cargo"
cp "$here/.cargo/config.toml" "$app/.cargo/"
cat > "$app/Cargo.toml" <<TOML
[package]
name = "downstream"
version = "0.1.0"
edition = "2021"

[dependencies]
worker-cuda = { path = "$here/worker-cuda" }
worker-cuda-sys = { path = "$here/worker-cuda-sys" }
TOML
cat > "$app/build.rs" <<'RS'
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_WORKER_CUDA_LIB_DIR");
    if let Some(dir) = std::env::var_os("DEP_WORKER_CUDA_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.to_string_lossy());
    }
}
RS
cat > "$app/src/main.rs" <<'RS'
fn main() {
    let ctx = worker_cuda::Context::new(worker_cuda::DEVICE_CPU).expect("CPU context");
    assert_eq!(ctx.check_device_health(), Ok(true));
    println!("downstream: the CPU context works");
}
RS
(cd "$app" && "$cargo" build --offline --quiet)
"$CARGO_TARGET_DIR/debug/downstream"
