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
//! Every handle of the C API is an owning type whose `Drop` frees it. The
//! borrow checker keeps a [`Model`] from outliving its [`Context`]:
//!
//! ```compile_fail,E0597
//! # use worker_cuda::{Context, DEVICE_CPU};
//! let model = {
//!     let ctx = Context::new(DEVICE_CPU).unwrap();
//!     ctx.load_model("model.gguf").unwrap()
//! };
//! ```
//!
//! and an [`Inference`] from outliving its [`Model`]:
//!
//! ```compile_fail,E0597
//! # use worker_cuda::{Context, DEVICE_CPU};
//! let ctx = Context::new(DEVICE_CPU).unwrap();
//! let inference = {
//!     let model = ctx.load_model("model.gguf").unwrap();
//!     model.start_inference("Hello", 8, 0.0, 0).unwrap()
//! };
//! ```
//!
//! Contexts and models are `Send` and `Sync`: several threads may share a
//! model, each running its own inference. An inference is `Send` — it may
//! move to another thread between calls — but not `Sync`:
//!
//! ```
//! fn send_and_sync<T: Send + Sync>() {}
//! fn send<T: Send>() {}
//! send_and_sync::<worker_cuda::Context>();
//! send_and_sync::<worker_cuda::Model<'static>>();
//! send::<worker_cuda::Inference<'static>>();
//! ```
//!
//! ```compile_fail,E0277
//! fn sync<T: Sync>() {}
//! sync::<worker_cuda::Inference<'static>>();
//! ```
#![warn(missing_docs)]
// Every unsafe block says why it is sound.
#![warn(clippy::undocumented_unsafe_blocks)]

mod context;
mod error;
mod inference;
mod model;
mod params;
mod settings;

pub use context::{Context, DEVICE_CPU};
pub use error::{CudaError, CudaErrorCode};
pub use inference::Inference;
pub use model::Model;
pub use params::InferenceParams;
pub use settings::{ContextBuilder, CpuIsa, CpuWeights, LogLevel};
