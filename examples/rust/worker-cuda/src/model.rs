use std::ffi::CString;
use std::os::raw::c_char;
use std::ptr::NonNull;
use std::sync::Arc;

use worker_cuda_sys as sys;

use crate::context::Context;
use crate::error::{check, CudaError};
use crate::inference::Inference;
use crate::params::{max_tokens_to_c, InferenceParams};

/// A model loaded on a [`Context`]'s device.
///
/// A reference-counted handle: clones share one model. It holds a clone of
/// its [`Context`], and every [`Inference`] on it holds a clone of the model,
/// so no borrow ties them together: a `Model` is `'static`, `Send` and
/// `Sync`, and may live in a long-lived struct or move into a thread. The
/// model is unloaded (`cuda_unload_model`) when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Model {
    handle: Arc<ModelHandle>,
}

/// The owned C handle and the context it was loaded on.
#[derive(Debug)]
struct ModelHandle {
    raw: NonNull<sys::CudaModel>,
    context: Context,
}

// SAFETY: the C API documents that a model may be used from any thread, and
// from several threads at once.
unsafe impl Send for ModelHandle {}
// SAFETY: as above: several threads may each start and run their own
// inference on one model; only `&self` methods reach the pointer.
unsafe impl Sync for ModelHandle {}

impl Model {
    pub(crate) fn from_raw(raw: NonNull<sys::CudaModel>, context: Context) -> Model {
        Model {
            handle: Arc::new(ModelHandle { raw, context }),
        }
    }

    /// The live C handle; valid while this value (or a clone) lives.
    pub(crate) fn as_ptr(&self) -> *mut sys::CudaModel {
        self.handle.raw.as_ptr()
    }

    /// The context the model was loaded on.
    pub fn context(&self) -> &Context {
        &self.handle.context
    }

    /// Bytes the model's weights hold on its device (on the CPU device, the
    /// bytes of weight data used from the mapped file).
    pub fn vram_bytes(&self) -> u64 {
        // SAFETY: `self.as_ptr()` is a live model.
        unsafe { sys::cuda_model_get_vram_usage(self.as_ptr()) }
    }

    /// Whether every weight is resident in device memory (on the CPU device:
    /// mapped and readable).
    ///
    /// # Errors
    /// [`CudaError::VramResidencyFailed`] names an allocation that is not
    /// plain device memory.
    pub fn check_vram_residency(&self) -> Result<bool, CudaError> {
        let mut code = 0;
        // SAFETY: `self.as_ptr()` is a live model and `code` a valid out-pointer.
        let resident = unsafe { sys::cuda_check_vram_residency(self.as_ptr(), &mut code) };
        check(code, resident)
    }

    /// Starts generating from `prompt` with temperature sampling (0 is
    /// greedy); top-k, top-p and min-p are off. The prompt is tokenized
    /// before this returns and evaluated by the first
    /// [`Inference::next_token`] (which [`Canceller::cancel`](crate::Canceller::cancel)
    /// interrupts). The inference holds a clone of the model.
    ///
    /// # Errors
    /// [`CudaError::InvalidParameter`] for a prompt with a NUL byte, a value
    /// out of range or a prompt too long for the model's context;
    /// [`CudaError::OutOfMemory`] when the KV cache does not fit.
    pub fn start_inference(
        &self,
        prompt: &str,
        max_tokens: u32,
        temperature: f32,
        seed: u64,
    ) -> Result<Inference, CudaError> {
        let prompt = prompt_to_cstring(prompt)?;
        let max_tokens = max_tokens_to_c(max_tokens)?;
        let mut code = 0;
        // SAFETY: `self.as_ptr()` is a live model, `prompt` is NUL-terminated and
        // outlives the call, and `code` is a valid out-pointer.
        let raw = unsafe {
            sys::cuda_inference_start(
                self.as_ptr(),
                prompt.as_ptr(),
                max_tokens,
                temperature,
                seed,
                &mut code,
            )
        };
        Inference::from_start(code, raw, self.clone())
    }

    /// Starts generating from `prompt` with full sampling control.
    ///
    /// ```no_run
    /// # use worker_cuda::{Context, InferenceParams, DEVICE_CPU};
    /// # fn main() -> Result<(), worker_cuda::CudaError> {
    /// # let ctx = Context::new(DEVICE_CPU)?;
    /// # let model = ctx.load_model("model.gguf")?;
    /// let params = InferenceParams::new().max_tokens(64).temperature(0.7).top_k(20).stop(["\n\n"]);
    /// let text: String = model
    ///     .start_inference_with("Once upon a time", &params)?
    ///     .map(|token| token.map(|(text, _)| text))
    ///     .collect::<Result<_, _>>()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Model::start_inference`], and [`CudaError::InvalidParameter`] for
    /// sampling parameters out of range or a stop string that is empty or
    /// has a NUL byte.
    pub fn start_inference_with(
        &self,
        prompt: &str,
        params: &InferenceParams,
    ) -> Result<Inference, CudaError> {
        let prompt = prompt_to_cstring(prompt)?;
        let stop = params.stop_cstrings()?;
        let stop_ptrs: Vec<*const c_char> = stop.iter().map(|s| s.as_ptr()).collect();
        let raw_params = params.to_raw(&stop_ptrs)?;
        let mut code = 0;
        // SAFETY: `self.as_ptr()` is a live model; `prompt`, `raw_params` and the
        // stop strings it points to (`stop`, `stop_ptrs`) outlive the call,
        // which copies what it keeps; `code` is a valid out-pointer.
        let raw = unsafe {
            sys::cuda_inference_start_ex(self.as_ptr(), prompt.as_ptr(), &raw_params, &mut code)
        };
        Inference::from_start(code, raw, self.clone())
    }
}

impl Drop for ModelHandle {
    fn drop(&mut self) {
        // SAFETY: `self.raw` came from cuda_load_model and is freed only here,
        // when the last Model clone is dropped (before `self.context`).
        unsafe { sys::cuda_unload_model(self.raw.as_ptr()) }
    }
}

pub(crate) fn prompt_to_cstring(prompt: &str) -> Result<CString, CudaError> {
    CString::new(prompt).map_err(|e| {
        CudaError::InvalidParameter(format!(
            "prompt has an interior NUL byte at offset {}",
            e.nul_position()
        ))
    })
}
