//! Safe Rust API for `libworker_cuda`: run GGUF language models on a CUDA
//! device or on the CPU reference device, and stream the generated text.
//!
//! ```no_run
//! use worker_cuda::{Context, DEVICE_CPU};
//!
//! # fn main() -> Result<(), worker_cuda::CudaError> {
//! let device = if Context::device_count() > 0 { 0 } else { DEVICE_CPU };
//! let ctx = Context::new(device)?;
//! let model = ctx.load_model("SmolLM2-135M-Instruct.Q4_1.gguf")?;
//! for token in model.start_inference("The capital of France is", 32, 0.0, 42)? {
//!     let (text, _index) = token?;
//!     print!("{text}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Ownership and threads
//!
//! Every handle of the C API is an owning, reference-counted type whose last
//! clone frees it. A [`Model`] holds its [`Context`], and an [`Inference`]
//! its [`Model`], so none borrows another: all are `'static`, and a model
//! may outlive the binding its context was created in:
//!
//! ```no_run
//! # use worker_cuda::{Context, Model, DEVICE_CPU};
//! fn load() -> Result<Model, worker_cuda::CudaError> {
//!     let ctx = Context::new(DEVICE_CPU)?;
//!     ctx.load_model("model.gguf") // ctx is dropped; the model keeps it
//! }
//! ```
//!
//! Contexts and models are `Send` and `Sync`: several threads may share a
//! model (clone it into each), each running its own inference. An inference
//! is `Send` — it may move to another thread between calls — but not `Sync`,
//! as the C API requires; a [`Canceller`] stops it from any other thread:
//!
//! ```
//! fn send_and_sync<T: Send + Sync + 'static>() {}
//! fn send<T: Send + 'static>() {}
//! send_and_sync::<worker_cuda::Context>();
//! send_and_sync::<worker_cuda::Model>();
//! send_and_sync::<worker_cuda::Canceller>();
//! send::<worker_cuda::Inference>();
//! ```
//!
//! ```compile_fail,E0277
//! fn sync<T: Sync>() {}
//! sync::<worker_cuda::Inference>();
//! ```
//!
//! # Finding the library at run time
//!
//! `worker-cuda-sys` links `libworker_cuda.so` from `WORKER_CUDA_LIB_DIR`, or
//! from pkg-config's `worker_cuda` module. A program outside the system's
//! library folders must also find it when it runs. Either set
//! `LD_LIBRARY_PATH`, or give the program an rpath: depend on
//! `worker-cuda-sys` too (it publishes the folder it linked from as
//! `DEP_WORKER_CUDA_LIB_DIR` to the build scripts of the crates that depend
//! on it directly) and add this `build.rs`:
//!
//! ```ignore
//! fn main() {
//!     println!("cargo:rerun-if-env-changed=DEP_WORKER_CUDA_LIB_DIR");
//!     if let Some(dir) = std::env::var_os("DEP_WORKER_CUDA_LIB_DIR") {
//!         println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.to_string_lossy());
//!     }
//! }
//! ```
//!
//! (Cargo passes a build script's link arguments only to its own package's
//! targets, so a library crate cannot do this for the programs that use it.)
#![warn(missing_docs)]
// Every unsafe block says why it is sound.
#![warn(clippy::undocumented_unsafe_blocks)]

mod context;
mod error;
mod inference;
mod model;
mod params;
mod settings;
// ABI 0.3
mod chat;
mod inference_info;
mod tokens;

pub use context::{Context, DEVICE_CPU};
pub use error::{CudaError, CudaErrorCode};
pub use inference::Inference;
pub use model::Model;
pub use params::InferenceParams;
pub use settings::{ContextBuilder, CpuIsa, CpuWeights, LogLevel};
// ABI 0.3
pub use chat::{ChatMessage, ChatOptions};
pub use inference_info::{Canceller, FinishReason, InferenceInfo, TokenLogprobs};
pub use tokens::{ModelInfo, TokenId};
