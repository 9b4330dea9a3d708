//! Error codes of the C ABI and the error type of this crate.

use std::ffi::CStr;
use std::fmt;

use worker_cuda_sys as sys;

/// The C ABI's `CudaErrorCode`, with the same fixed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum CudaErrorCode {
    /// The call succeeded.
    Success = sys::CUDA_SUCCESS as i32,
    /// Device id out of range or unusable.
    InvalidDevice = sys::CUDA_ERROR_INVALID_DEVICE as i32,
    /// Host or device memory exhausted.
    OutOfMemory = sys::CUDA_ERROR_OUT_OF_MEMORY as i32,
    /// The model file is missing, unreadable, malformed or unsupported.
    ModelLoadFailed = sys::CUDA_ERROR_MODEL_LOAD_FAILED as i32,
    /// Generation failed after it was started.
    InferenceFailed = sys::CUDA_ERROR_INFERENCE_FAILED as i32,
    /// A NULL or freed handle, or an out-of-range value.
    InvalidParameter = sys::CUDA_ERROR_INVALID_PARAMETER as i32,
    /// A GPU kernel could not be launched or faulted.
    KernelLaunchFailed = sys::CUDA_ERROR_KERNEL_LAUNCH_FAILED as i32,
    /// A weight allocation is not plain device memory.
    VramResidencyFailed = sys::CUDA_ERROR_VRAM_RESIDENCY_FAILED as i32,
    /// No CUDA device exists (or the library has no CUDA backend).
    DeviceNotFound = sys::CUDA_ERROR_DEVICE_NOT_FOUND as i32,
    /// An unexpected internal failure.
    Unknown = sys::CUDA_ERROR_UNKNOWN as i32,
}

impl CudaErrorCode {
    /// The code with this C value, or `None` when the value is not one.
    pub fn from_raw(code: i32) -> Option<CudaErrorCode> {
        use CudaErrorCode::*;
        [
            Success,
            InvalidDevice,
            OutOfMemory,
            ModelLoadFailed,
            InferenceFailed,
            InvalidParameter,
            KernelLaunchFailed,
            VramResidencyFailed,
            DeviceNotFound,
            Unknown,
        ]
        .into_iter()
        .find(|c| *c as i32 == code)
    }

    /// The C value of this code.
    pub fn raw(self) -> i32 {
        self as i32
    }

    /// The library's short, static description of this code
    /// (`cuda_error_message`), e.g. `"model load failed"`.
    pub fn message(self) -> &'static str {
        // SAFETY: cuda_error_message accepts any integer and returns a pointer
        // to a static NUL-terminated string that is never freed.
        let message = unsafe { CStr::from_ptr(sys::cuda_error_message(self.raw())) };
        message.to_str().unwrap_or("unknown error code")
    }
}

impl fmt::Display for CudaErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A failed call: the kind of failure, and the library's detail message
/// (from `cuda_last_error_detail`) saying what exactly went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CudaError {
    /// Device id out of range or unusable.
    #[error("invalid device: {0}")]
    InvalidDevice(String),
    /// Host or device memory exhausted.
    #[error("out of memory: {0}")]
    OutOfMemory(String),
    /// The model file is missing, unreadable, malformed or unsupported.
    #[error("model load failed: {0}")]
    ModelLoadFailed(String),
    /// Generation failed after it was started.
    #[error("inference failed: {0}")]
    InferenceFailed(String),
    /// A bad argument: an out-of-range value, an interior NUL byte, ...
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A GPU kernel could not be launched or faulted.
    #[error("kernel launch failed: {0}")]
    KernelLaunchFailed(String),
    /// A weight allocation is not plain device memory.
    #[error("VRAM residency check failed: {0}")]
    VramResidencyFailed(String),
    /// No CUDA device exists (or the library has no CUDA backend).
    #[error("no CUDA device found: {0}")]
    DeviceNotFound(String),
    /// An unexpected internal failure, or a code this crate does not know.
    #[error("unknown error: {0}")]
    Unknown(String),
}

impl CudaError {
    /// The error for a code a worker_cuda call has just reported on this
    /// thread, carrying that call's detail message.
    ///
    /// Call it right after the failing call, before any other worker_cuda
    /// call on the same thread replaces the detail. Values that are not an
    /// error code (including `CUDA_SUCCESS`) give [`CudaError::Unknown`].
    pub fn from_code(code: i32) -> CudaError {
        // SAFETY: cuda_last_error_detail never fails and returns a pointer to
        // a NUL-terminated thread-local string that stays valid until the next
        // worker_cuda call on this thread; it is copied before any such call.
        let detail = unsafe { CStr::from_ptr(sys::cuda_last_error_detail()) };
        let detail = detail.to_string_lossy().into_owned();
        match CudaErrorCode::from_raw(code) {
            Some(CudaErrorCode::Success) | None => CudaError::Unknown(if detail.is_empty() {
                format!("error code {code} is not a failure code")
            } else {
                detail
            }),
            Some(known) => CudaError::with_detail(known, detail),
        }
    }

    /// The error of kind `code` with the given detail. `Success` gives
    /// [`CudaError::Unknown`].
    pub fn with_detail(code: CudaErrorCode, detail: impl Into<String>) -> CudaError {
        let detail = detail.into();
        match code {
            CudaErrorCode::InvalidDevice => CudaError::InvalidDevice(detail),
            CudaErrorCode::OutOfMemory => CudaError::OutOfMemory(detail),
            CudaErrorCode::ModelLoadFailed => CudaError::ModelLoadFailed(detail),
            CudaErrorCode::InferenceFailed => CudaError::InferenceFailed(detail),
            CudaErrorCode::InvalidParameter => CudaError::InvalidParameter(detail),
            CudaErrorCode::KernelLaunchFailed => CudaError::KernelLaunchFailed(detail),
            CudaErrorCode::VramResidencyFailed => CudaError::VramResidencyFailed(detail),
            CudaErrorCode::DeviceNotFound => CudaError::DeviceNotFound(detail),
            CudaErrorCode::Success | CudaErrorCode::Unknown => CudaError::Unknown(detail),
        }
    }

    /// The code of this error.
    pub fn code(&self) -> CudaErrorCode {
        match self {
            CudaError::InvalidDevice(_) => CudaErrorCode::InvalidDevice,
            CudaError::OutOfMemory(_) => CudaErrorCode::OutOfMemory,
            CudaError::ModelLoadFailed(_) => CudaErrorCode::ModelLoadFailed,
            CudaError::InferenceFailed(_) => CudaErrorCode::InferenceFailed,
            CudaError::InvalidParameter(_) => CudaErrorCode::InvalidParameter,
            CudaError::KernelLaunchFailed(_) => CudaErrorCode::KernelLaunchFailed,
            CudaError::VramResidencyFailed(_) => CudaErrorCode::VramResidencyFailed,
            CudaError::DeviceNotFound(_) => CudaErrorCode::DeviceNotFound,
            CudaError::Unknown(_) => CudaErrorCode::Unknown,
        }
    }

    /// The library's detail message.
    pub fn detail(&self) -> &str {
        match self {
            CudaError::InvalidDevice(d)
            | CudaError::OutOfMemory(d)
            | CudaError::ModelLoadFailed(d)
            | CudaError::InferenceFailed(d)
            | CudaError::InvalidParameter(d)
            | CudaError::KernelLaunchFailed(d)
            | CudaError::VramResidencyFailed(d)
            | CudaError::DeviceNotFound(d)
            | CudaError::Unknown(d) => d,
        }
    }
}

/// Turns the outcome of a call with an `error_code` out-parameter into a
/// `Result`: `Ok(value)` on `CUDA_SUCCESS`, else the error with its detail.
pub(crate) fn check<T>(code: i32, value: T) -> Result<T, CudaError> {
    if code == sys::CUDA_SUCCESS as i32 {
        Ok(value)
    } else {
        Err(CudaError::from_code(code))
    }
}
