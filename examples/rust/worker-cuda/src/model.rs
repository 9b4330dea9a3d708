use std::ffi::CString;
use std::marker::PhantomData;
use std::os::raw::c_char;
use std::ptr::NonNull;

use worker_cuda_sys as sys;

use crate::context::Context;
use crate::error::{check, CudaError};
use crate::inference::Inference;
use crate::params::{max_tokens_to_c, InferenceParams};

/// A model loaded on a [`Context`]'s device. It cannot outlive the context.
///
/// Dropping it unloads the model (`cuda_unload_model`).
#[derive(Debug)]
pub struct Model<'ctx> {
    raw: NonNull<sys::CudaModel>,
    _context: PhantomData<&'ctx Context>,
}

// SAFETY: the C API documents that a model may be used from any thread, and
// from several threads at once.
unsafe impl Send for Model<'_> {}
// SAFETY: as above: several threads may each start and run their own
// inference on one model.
unsafe impl Sync for Model<'_> {}

impl<'ctx> Model<'ctx> {
    pub(crate) fn from_raw(raw: NonNull<sys::CudaModel>) -> Model<'ctx> {
        Model {
            raw,
            _context: PhantomData,
        }
    }

    /// Bytes the model's weights hold on its device (on the CPU device, the
    /// bytes of weight data used from the mapped file).
    pub fn vram_bytes(&self) -> u64 {
        // SAFETY: `self.raw` is a live model.
        unsafe { sys::cuda_model_get_vram_usage(self.raw.as_ptr()) }
    }

    /// Whether every weight is resident in device memory (on the CPU device:
    /// mapped and readable).
    ///
    /// # Errors
    /// [`CudaError::VramResidencyFailed`] names an allocation that is not
    /// plain device memory.
    pub fn check_vram_residency(&self) -> Result<bool, CudaError> {
        let mut code = 0;
        // SAFETY: `self.raw` is a live model and `code` a valid out-pointer.
        let resident = unsafe { sys::cuda_check_vram_residency(self.raw.as_ptr(), &mut code) };
        check(code, resident)
    }

    /// Starts generating from `prompt` with temperature sampling (0 is
    /// greedy); top-k, top-p and min-p are off. The prompt is evaluated
    /// before this returns.
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
    ) -> Result<Inference<'_>, CudaError> {
        let prompt = prompt_to_cstring(prompt)?;
        let max_tokens = max_tokens_to_c(max_tokens)?;
        let mut code = 0;
        // SAFETY: `self.raw` is a live model, `prompt` is NUL-terminated and
        // outlives the call, and `code` is a valid out-pointer.
        let raw = unsafe {
            sys::cuda_inference_start(
                self.raw.as_ptr(),
                prompt.as_ptr(),
                max_tokens,
                temperature,
                seed,
                &mut code,
            )
        };
        Inference::from_start(code, raw)
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
    ) -> Result<Inference<'_>, CudaError> {
        let prompt = prompt_to_cstring(prompt)?;
        let stop = params.stop_cstrings()?;
        let stop_ptrs: Vec<*const c_char> = stop.iter().map(|s| s.as_ptr()).collect();
        let raw_params = params.to_raw(&stop_ptrs)?;
        let mut code = 0;
        // SAFETY: `self.raw` is a live model; `prompt`, `raw_params` and the
        // stop strings it points to (`stop`, `stop_ptrs`) outlive the call,
        // which copies what it keeps; `code` is a valid out-pointer.
        let raw = unsafe {
            sys::cuda_inference_start_ex(self.raw.as_ptr(), prompt.as_ptr(), &raw_params, &mut code)
        };
        Inference::from_start(code, raw)
    }
}

impl Drop for Model<'_> {
    fn drop(&mut self) {
        // SAFETY: `self.raw` came from cuda_load_model and is freed only here.
        unsafe { sys::cuda_unload_model(self.raw.as_ptr()) }
    }
}

fn prompt_to_cstring(prompt: &str) -> Result<CString, CudaError> {
    CString::new(prompt).map_err(|e| {
        CudaError::InvalidParameter(format!(
            "prompt has an interior NUL byte at offset {}",
            e.nul_position()
        ))
    })
}
