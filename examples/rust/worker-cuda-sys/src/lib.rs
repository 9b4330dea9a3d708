//! Raw bindings to `libworker_cuda`, generated at build time by bindgen from
//! `include/worker_ffi.h`.
//!
//! Everything here is `unsafe` and mirrors the C header one to one; its
//! documentation is the reference for each function. Use the `worker-cuda`
//! crate for a safe API.
//!
//! The build script links `libworker_cuda.so` from `WORKER_CUDA_LIB_DIR` when
//! that is set, else through pkg-config (`worker_cuda.pc`).

#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]
// bindgen's layout tests dereference null pointers in a way clippy flags.
#![allow(clippy::all, deref_nullptr)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
