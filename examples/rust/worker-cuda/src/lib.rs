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
//! Every handle of the C API is an owning type whose `Drop` frees it. The
//! borrow checker keeps a [`Model`] from outliving its [`Context`] and an
//! [`Inference`] from outliving its [`Model`]. Contexts and models may be
//! shared between threads (each thread running its own inference); an
//! inference may move to another thread but not be shared.
#![warn(missing_docs)]

mod context;
mod error;
mod inference;
mod model;
mod params;

pub use context::{Context, DEVICE_CPU};
pub use error::{CudaError, CudaErrorCode};
pub use inference::Inference;
pub use model::Model;
pub use params::InferenceParams;
