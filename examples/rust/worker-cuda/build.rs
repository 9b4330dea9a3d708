//! When worker-cuda-sys links a library outside the system's search path
//! (`WORKER_CUDA_LIB_DIR`), this crate's tests and examples get an rpath to
//! it so that they run without `LD_LIBRARY_PATH`.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_WORKER_CUDA_LIB_DIR");
    if let Some(lib_dir) = std::env::var_os("DEP_WORKER_CUDA_LIB_DIR") {
        println!(
            "cargo:rustc-link-arg=-Wl,-rpath,{}",
            lib_dir.to_string_lossy()
        );
    }
}
