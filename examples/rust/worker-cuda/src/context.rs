use std::ffi::CString;
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::Arc;

use worker_cuda_sys as sys;

use crate::error::{check, CudaError};
use crate::model::Model;
use crate::settings::{ContextBuilder, LogSink};

/// Device id that selects the CPU reference device in [`Context::new`].
pub const DEVICE_CPU: i32 = sys::WORKER_DEVICE_CPU;

/// A context on one device: a CUDA GPU, or the CPU reference device.
///
/// A reference-counted handle: clones share one context, and every
/// [`Model`] loaded on it holds a clone, so the context lives until the last
/// of them is dropped (then `cuda_destroy` frees it). It is `'static`,
/// `Send` and `Sync`.
#[derive(Debug, Clone)]
pub struct Context {
    handle: Arc<ContextHandle>,
}

/// The owned C handle; freed when the last [`Context`] clone goes.
#[derive(Debug)]
struct ContextHandle {
    raw: NonNull<sys::CudaContext>,
    // The log function the library calls for this context: dropped after
    // the context is destroyed (fields drop after `Drop::drop`), and models,
    // which borrow the context, are gone by then.
    _log: Option<LogSink>,
}

// SAFETY: the C API documents that all functions may be called from any
// thread and that a context may be used from several threads at once.
unsafe impl Send for ContextHandle {}
// SAFETY: as above; the library synchronises concurrent use of one context
// internally, and only `&self` methods reach the pointer.
unsafe impl Sync for ContextHandle {}

impl Context {
    /// Creates a context on CUDA device `device` (in
    /// `0..Context::device_count()`), or on the CPU with [`DEVICE_CPU`].
    ///
    /// # Errors
    /// [`CudaError::DeviceNotFound`] when a GPU is asked for and there is
    /// none, [`CudaError::InvalidDevice`] for an id out of range.
    pub fn new(device: i32) -> Result<Context, CudaError> {
        let mut code = 0;
        // SAFETY: `code` is a valid out-pointer for the duration of the call.
        let raw = unsafe { sys::cuda_init(device, &mut code) };
        let raw = check(code, raw)?;
        NonNull::new(raw)
            .map(|raw| Context::from_raw(raw, None))
            .ok_or_else(|| CudaError::Unknown("cuda_init returned NULL with success".into()))
    }

    /// A builder for a context on `device` with explicit settings (threads,
    /// CPU instruction-set level, CUDA graphs, staging size, health timeout,
    /// weight residency, logging), through `cuda_init_ex`.
    pub fn builder(device: i32) -> ContextBuilder {
        ContextBuilder::new(device)
    }

    pub(crate) fn from_raw(raw: NonNull<sys::CudaContext>, log: Option<LogSink>) -> Context {
        Context {
            handle: Arc::new(ContextHandle { raw, _log: log }),
        }
    }

    /// Number of CUDA devices visible to this process (0 without a GPU).
    pub fn device_count() -> i32 {
        // SAFETY: takes no arguments and never fails.
        unsafe { sys::cuda_get_device_count() }
    }

    /// Loads a GGUF model onto this context's device.
    ///
    /// # Errors
    /// [`CudaError::ModelLoadFailed`] when the file is missing, malformed or
    /// unsupported; [`CudaError::OutOfMemory`] when it does not fit;
    /// [`CudaError::InvalidParameter`] for a path with a NUL byte.
    ///
    /// The model holds a clone of this context: it may outlive this value.
    pub fn load_model(&self, path: impl AsRef<Path>) -> Result<Model, CudaError> {
        let path = path_to_cstring(path.as_ref())?;
        let mut code = 0;
        // SAFETY: `self.as_ptr()` is a live context, `path` is NUL-terminated and
        // outlives the call, the VRAM out-pointer may be NULL, and `code` is a
        // valid out-pointer.
        let raw = unsafe {
            sys::cuda_load_model(self.as_ptr(), path.as_ptr(), ptr::null_mut(), &mut code)
        };
        let raw = check(code, raw)?;
        NonNull::new(raw)
            .map(|raw| Model::from_raw(raw, self.clone()))
            .ok_or_else(|| CudaError::Unknown("cuda_load_model returned NULL with success".into()))
    }

    /// Device memory this process holds on the context's device through the
    /// library (every model and inference on it), in bytes; the resident set
    /// size on the CPU device.
    pub fn process_vram_usage(&self) -> u64 {
        // SAFETY: `self.as_ptr()` is a live context.
        unsafe { sys::cuda_get_process_vram_usage(self.as_ptr()) }
    }

    /// Whether the device still works (always true on the CPU device).
    ///
    /// # Errors
    /// [`CudaError::KernelLaunchFailed`] or [`CudaError::Unknown`] when the
    /// device is in an error state.
    pub fn check_device_health(&self) -> Result<bool, CudaError> {
        let mut code = 0;
        // SAFETY: `self.as_ptr()` is a live context and `code` a valid out-pointer.
        let healthy = unsafe { sys::cuda_check_device_health(self.as_ptr(), &mut code) };
        check(code, healthy)
    }
}

impl Context {
    /// The live C handle; valid while this value (or a clone) lives.
    pub(crate) fn as_ptr(&self) -> *mut sys::CudaContext {
        self.handle.raw.as_ptr()
    }
}

impl Drop for ContextHandle {
    fn drop(&mut self) {
        // SAFETY: `self.raw` came from cuda_init and is freed only here, when
        // the last Context clone is dropped.
        unsafe { sys::cuda_destroy(self.raw.as_ptr()) }
    }
}

/// The path as the C API takes it: its bytes, NUL-terminated.
fn path_to_cstring(path: &Path) -> Result<CString, CudaError> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|e| {
        CudaError::InvalidParameter(format!(
            "model path has a NUL byte at offset {}",
            e.nul_position()
        ))
    })
}
