//! Context settings (`cuda_init_ex`, API 0.3): a builder for [`Context`]
//! and the log callback it keeps alive.

use std::ffi::CStr;
use std::fmt;
use std::mem;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use worker_cuda_sys as sys;

use crate::context::Context;
use crate::error::{check, CudaError};

/// Highest instruction-set level of a context's CPU kernels: a cap, never
/// above what the CPU has. Every level gives the same results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CpuIsa {
    /// `WORKER_CPU_ISA` when set, else the highest level the CPU has.
    #[default]
    Auto,
    /// Portable kernels only.
    Scalar,
    /// At most AVX2 + FMA + F16C (and AVX-VNNI where the CPU has it).
    Avx2,
    /// At most AVX-512.
    Avx512,
}

impl CpuIsa {
    fn raw(self) -> i32 {
        (match self {
            CpuIsa::Auto => sys::WORKER_CPU_ISA_AUTO,
            CpuIsa::Scalar => sys::WORKER_CPU_ISA_SCALAR,
            CpuIsa::Avx2 => sys::WORKER_CPU_ISA_AVX2,
            CpuIsa::Avx512 => sys::WORKER_CPU_ISA_AVX512,
        }) as i32
    }
}

/// Where the CPU device keeps a model's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CpuWeights {
    /// Read from a read-only mapping of the file.
    Mapped,
    /// Read once into private memory at load, immune to changes of the file.
    Private,
}

/// Level of a library message, and the most detailed level a context reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum LogLevel {
    /// No messages (only as a context's level).
    None = sys::WORKER_LOG_NONE as i32,
    /// A failure.
    Error = sys::WORKER_LOG_ERROR as i32,
    /// Something unexpected that the library worked around.
    Warn = sys::WORKER_LOG_WARN as i32,
    /// Progress, such as the steps of a model's load.
    Info = sys::WORKER_LOG_INFO as i32,
    /// Detail for debugging the library.
    Debug = sys::WORKER_LOG_DEBUG as i32,
}

impl LogLevel {
    fn from_raw(level: c_int) -> LogLevel {
        match level {
            l if l == LogLevel::Error as i32 => LogLevel::Error,
            l if l == LogLevel::Warn as i32 => LogLevel::Warn,
            l if l == LogLevel::Info as i32 => LogLevel::Info,
            l if l == LogLevel::None as i32 => LogLevel::None,
            _ => LogLevel::Debug,
        }
    }
}

/// What receives a context's messages.
pub(crate) type LogFn = Box<dyn Fn(LogLevel, &str) + Send + Sync + 'static>;

/// Owns a context's log function at a fixed address, which the library
/// holds as `log_user_data` for the life of the context.
pub(crate) struct LogSink(Box<LogFn>);

impl LogSink {
    fn user_data(&self) -> *mut c_void {
        &*self.0 as *const LogFn as *mut c_void
    }
}

impl fmt::Debug for LogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogSink(..)")
    }
}

/// The C callback: hands each message to the context's function. A panic
/// cannot unwind into C; it is caught here and the message is dropped.
unsafe extern "C" fn deliver(level: c_int, message: *const c_char, user_data: *mut c_void) {
    if message.is_null() || user_data.is_null() {
        return;
    }
    // SAFETY: `user_data` is the `LogFn` a live `LogSink` owns (the context
    // outlives every call the library makes with it), and `message` is a
    // NUL-terminated string valid for this call.
    let (log, text) = unsafe { (&*(user_data as *const LogFn), CStr::from_ptr(message)) };
    let text = text.to_string_lossy();
    let _ = panic::catch_unwind(AssertUnwindSafe(|| log(LogLevel::from_raw(level), &text)));
}

/// Builds a [`Context`] with explicit settings; made by [`Context::builder`].
///
/// Every setting not given takes its default: its environment variable when
/// that is set, else the built-in value (as `WORKER_CONTEXT_PARAMS_INIT`).
/// The library checks the values when [`build`](ContextBuilder::build) runs
/// and names any it refuses.
///
/// ```no_run
/// use worker_cuda::{Context, CpuIsa, LogLevel, DEVICE_CPU};
///
/// # fn main() -> Result<(), worker_cuda::CudaError> {
/// let ctx = Context::builder(DEVICE_CPU)
///     .cpu_threads(4)
///     .cpu_isa(CpuIsa::Avx2)
///     .log(LogLevel::Info, |level, text| eprintln!("{level:?}: {text}"))
///     .build()?;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct ContextBuilder {
    device: i32,
    params: sys::WorkerContextParams,
    log: Option<LogFn>,
}

impl fmt::Debug for ContextBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextBuilder")
            .field("device", &self.device)
            .field("cpu_threads", &self.params.cpu_threads)
            .field("cpu_isa", &self.params.cpu_isa)
            .field("cuda_graphs", &self.params.cuda_graphs)
            .field("cuda_staging_bytes", &self.params.cuda_staging_bytes)
            .field("health_timeout_ms", &self.params.health_timeout_ms)
            .field("cpu_weights", &self.params.cpu_weights)
            .field("log", &self.log.is_some())
            .field("log_level", &self.params.log_level)
            .finish()
    }
}

/// A count as the C field's `int32_t`; a value past its range stays out of
/// range (the library then refuses it, naming it).
fn as_c_int(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl ContextBuilder {
    pub(crate) fn new(device: i32) -> ContextBuilder {
        ContextBuilder {
            device,
            // WORKER_CONTEXT_PARAMS_INIT, field for field.
            params: sys::WorkerContextParams {
                struct_size: mem::size_of::<sys::WorkerContextParams>() as u32,
                cpu_threads: 0,
                cpu_isa: CpuIsa::Auto.raw(),
                cuda_graphs: -1,
                cuda_staging_bytes: 0,
                health_timeout_ms: 0,
                cpu_weights: sys::WORKER_CPU_WEIGHTS_DEFAULT as i32,
                log_callback: None,
                log_user_data: ptr::null_mut(),
                log_level: sys::WORKER_LOG_DEFAULT,
            },
            log: None,
        }
    }

    /// Worker threads of the CPU device, 1..=1024; 0, as not calling this,
    /// is the default: `WORKER_CPU_THREADS`, else all cores.
    pub fn cpu_threads(mut self, threads: u32) -> Self {
        self.params.cpu_threads = as_c_int(threads);
        self
    }

    /// Highest instruction-set level of this context's CPU kernels.
    pub fn cpu_isa(mut self, isa: CpuIsa) -> Self {
        self.params.cpu_isa = isa.raw();
        self
    }

    /// GPU: capture each inference's decode step in a CUDA graph (default:
    /// `WORKER_CUDA_GRAPHS`, else on).
    pub fn cuda_graphs(mut self, on: bool) -> Self {
        self.params.cuda_graphs = i32::from(on);
        self
    }

    /// GPU: bytes of each pinned staging buffer weights are uploaded
    /// through, 65536..=268435456; 0 is the default:
    /// `WORKER_CUDA_STAGING_BYTES`, else 1 MiB.
    pub fn cuda_staging_bytes(mut self, bytes: u64) -> Self {
        self.params.cuda_staging_bytes = bytes;
        self
    }

    /// GPU: how long [`Context::check_device_health`] waits for the device,
    /// 1..=3600000 ms; 0 is the default: `WORKER_HEALTH_TIMEOUT_MS`, else
    /// 10000.
    pub fn health_timeout_ms(mut self, milliseconds: u32) -> Self {
        self.params.health_timeout_ms = as_c_int(milliseconds);
        self
    }

    /// CPU device: where models keep their weights (default:
    /// `WORKER_CPU_WEIGHTS`, else mapped).
    pub fn cpu_weights(mut self, weights: CpuWeights) -> Self {
        self.params.cpu_weights = (match weights {
            CpuWeights::Mapped => sys::WORKER_CPU_WEIGHTS_MAPPED,
            CpuWeights::Private => sys::WORKER_CPU_WEIGHTS_PRIVATE,
        }) as i32;
        self
    }

    /// The most detailed level reported, to stderr unless [`log`](Self::log)
    /// gives a function (default: `WORKER_LOG`, else none).
    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.params.log_level = level as i32;
        self
    }

    /// Sends the messages up to `level` to `log` instead of stderr. It runs
    /// on the thread of the call that produced the message; a panic in it is
    /// caught and the message dropped.
    pub fn log<F>(mut self, level: LogLevel, log: F) -> Self
    where
        F: Fn(LogLevel, &str) + Send + Sync + 'static,
    {
        self.params.log_level = level as i32;
        self.log = Some(Box::new(log));
        self
    }

    /// Creates the context.
    ///
    /// # Errors
    /// As [`Context::new`], and [`CudaError::InvalidParameter`] for a value
    /// the library refuses (or an invalid environment variable a default
    /// reads); the detail names it and its value.
    pub fn build(self) -> Result<Context, CudaError> {
        let ContextBuilder {
            device,
            mut params,
            log,
        } = self;
        let sink = log.map(|log| LogSink(Box::new(log)));
        if let Some(sink) = &sink {
            params.log_callback = Some(deliver);
            params.log_user_data = sink.user_data();
        }
        let mut code = 0;
        // SAFETY: `params` is a complete WorkerContextParams read during the
        // call only; the log function it points to is owned by `sink`, which
        // the new context keeps until it is destroyed; `code` is a valid
        // out-pointer.
        let raw = unsafe { sys::cuda_init_ex(device, &params, &mut code) };
        let raw = check(code, raw)?;
        NonNull::new(raw)
            .map(|raw| Context::from_raw(raw, sink))
            .ok_or_else(|| CudaError::Unknown("cuda_init_ex returned NULL with success".into()))
    }
}
