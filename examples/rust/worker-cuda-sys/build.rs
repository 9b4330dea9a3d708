//! Finds libworker_cuda and generates the bindings from its public header.
//!
//! The library is taken from `WORKER_CUDA_LIB_DIR` when that is set (a build
//! tree, for instance), with the headers from `WORKER_CUDA_INCLUDE_DIR` or,
//! failing that, the `include/` folder of this source tree. Otherwise
//! pkg-config's `worker_cuda` module gives both.
//!
//! Either way the folder of the library is published as the `lib_dir`
//! metadata: the build scripts of crates that depend on this one read it as
//! `DEP_WORKER_CUDA_LIB_DIR` to give their programs an rpath (see the
//! `worker-cuda` crate's documentation).

use std::env;
use std::path::{Path, PathBuf};

/// Gives this crate's own tests an rpath to `lib_dir`, and publishes it as
/// metadata, read by dependents' build scripts as `DEP_WORKER_CUDA_LIB_DIR`
/// so that their programs find the library at run time too.
fn publish_lib_dir(lib_dir: &Path) {
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    println!("cargo:lib_dir={}", lib_dir.display());
}

fn main() {
    println!("cargo:rerun-if-env-changed=WORKER_CUDA_LIB_DIR");
    println!("cargo:rerun-if-env-changed=WORKER_CUDA_INCLUDE_DIR");

    let include_dir = match env::var_os("WORKER_CUDA_LIB_DIR") {
        Some(lib_dir) => {
            let lib_dir = PathBuf::from(lib_dir);
            println!("cargo:rustc-link-search=native={}", lib_dir.display());
            println!("cargo:rustc-link-lib=dylib=worker_cuda");
            publish_lib_dir(&lib_dir);
            env::var_os("WORKER_CUDA_INCLUDE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../include")
                })
        }
        None => {
            let library = pkg_config::Config::new()
                .atleast_version("0.3")
                .probe("worker_cuda")
                .unwrap_or_else(|e| {
                    panic!(
                        "libworker_cuda not found: set WORKER_CUDA_LIB_DIR to the folder that \
                         holds libworker_cuda.so, or install it where pkg-config finds \
                         worker_cuda.pc ({e})"
                    )
                });
            // The module's link search path is its libdir; pkg-config leaves
            // out system folders, which need no rpath.
            if let Some(lib_dir) = library.link_paths.first() {
                publish_lib_dir(lib_dir);
            }
            library
                .include_paths
                .into_iter()
                .find(|dir| dir.join("worker_ffi.h").is_file())
                .expect("pkg-config's worker_cuda include paths hold no worker_ffi.h")
        }
    };

    let header = include_dir.join("worker_ffi.h");
    assert!(
        header.is_file(),
        "{} does not exist: set WORKER_CUDA_INCLUDE_DIR to the folder of worker_ffi.h",
        header.display()
    );
    for name in ["worker_ffi.h", "worker_types.h", "worker_errors.h"] {
        println!(
            "cargo:rerun-if-changed={}",
            include_dir.join(name).display()
        );
    }

    let bindings = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .clang_arg(format!("-I{}", include_dir.display()))
        .allowlist_function("cuda_.*")
        .allowlist_type(
            "CudaContext|CudaModel|InferenceResult|WorkerInferenceParams|WorkerContextParams|WorkerLogCallback|CudaErrorCode",
        )
        // 0.3
        .allowlist_type(
            "WorkerInferenceInfo|WorkerFinishReason|WorkerTokenLogprob|WorkerModelInfo|WorkerChatMessage|WorkerChatParams|WorkerLoadParams|WorkerLoadProgress",
        )
        .allowlist_var("WORKER_.*")
        // CUDA_SUCCESS etc. as plain constants, named as in C.
        .prepend_enum_name(false)
        // The handles are opaque: Rust code only ever holds pointers to them.
        .opaque_type("CudaContext|CudaModel|InferenceResult")
        .layout_tests(true)
        .generate()
        .expect("bindgen could not generate bindings for worker_ffi.h");

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("could not write bindings.rs");
}
