use std::cell::Cell;
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int};
use std::ptr::NonNull;
use std::sync::Arc;

use worker_cuda_sys as sys;

use crate::error::{check, CudaError};
use crate::model::Model;

/// Size of the first buffer a token's text is read into; when a piece does
/// not fit, the library keeps it and says the size it needs.
const INITIAL_PIECE_CAPACITY: usize = 256;

/// One running generation on a [`Model`]. Pull tokens with
/// [`Inference::next_token`] or iterate over it.
///
/// It holds a clone of its model (no borrow: it is `'static`). It may move to
/// another thread (`Send`) but not be shared between threads (not `Sync`),
/// as the C API requires; to stop it from another thread, take a
/// [`Canceller`](crate::Canceller) first. Dropping it frees the inference
/// (`cuda_inference_free`).
#[derive(Debug)]
pub struct Inference {
    pub(crate) handle: Arc<InferenceHandle>,
    model: Model,
    piece: Vec<u8>,
    finished: bool,
    /// Keeps `Inference` from being `Sync` (`Cell` is `Send` but not `Sync`).
    _not_sync: PhantomData<Cell<()>>,
}

/// The owned C handle, shared with [`Canceller`]s (weakly).
#[derive(Debug)]
pub(crate) struct InferenceHandle {
    raw: NonNull<sys::InferenceResult>,
}

impl InferenceHandle {
    pub(crate) fn as_ptr(&self) -> *mut sys::InferenceResult {
        self.raw.as_ptr()
    }
}

// SAFETY: the C API documents that an InferenceResult may move from one
// thread to another between calls.
unsafe impl Send for InferenceHandle {}
// SAFETY: through a shared reference only two things reach the pointer: the
// one Inference that owns it (which is not Sync, so one thread at a time),
// and Cancellers, which only call cuda_inference_cancel — documented as safe
// from any thread, during any other call on the inference.
unsafe impl Sync for InferenceHandle {}

impl Drop for InferenceHandle {
    fn drop(&mut self) {
        // SAFETY: `self.raw` came from a start call and is freed only here,
        // when the Inference and any Canceller that is cancelling are done.
        unsafe { sys::cuda_inference_free(self.raw.as_ptr()) }
    }
}

impl Inference {
    /// Wraps the result of a start call that reported `code`.
    pub(crate) fn from_start(
        code: i32,
        raw: *mut sys::InferenceResult,
        model: Model,
    ) -> Result<Inference, CudaError> {
        let raw = check(code, raw)?;
        let raw = NonNull::new(raw).ok_or_else(|| {
            CudaError::Unknown("cuda_inference_start returned NULL with success".into())
        })?;
        Ok(Inference {
            handle: Arc::new(InferenceHandle { raw }),
            model,
            piece: vec![0; INITIAL_PIECE_CAPACITY],
            finished: false,
            _not_sync: PhantomData,
        })
    }

    /// The live C handle.
    pub(crate) fn as_ptr(&self) -> *mut sys::InferenceResult {
        self.handle.as_ptr()
    }

    /// The model it runs on.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Generates the next token: `Some((text, index))` with its text and
    /// 0-based index, or `None` once generation is complete (end of
    /// sequence, `max_tokens`, a stop string, or a cancel: see
    /// [`Inference::info`]). The first call evaluates the prompt.
    ///
    /// Text is always whole UTF-8 characters: a character split across
    /// tokens is returned with the token that completes it, so a piece may
    /// be empty, and some tokens give no piece (the index then skips them).
    ///
    /// # Errors
    /// [`CudaError::InferenceFailed`] or [`CudaError::KernelLaunchFailed`]
    /// when the step fails; the inference cannot continue after that, but
    /// the model stays usable. [`CudaError::OutOfMemory`] when the prompt's
    /// activations do not fit.
    pub fn next_token(&mut self) -> Result<Option<(String, u32)>, CudaError> {
        loop {
            let mut index: c_int = 0;
            let mut code = 0;
            // SAFETY: `self.as_ptr()` is a live inference used by this thread
            // only (`&mut self`, and Inference is not Sync); `self.piece` is
            // writable for the length given, which fits a c_int (it is at
            // most a size the library reported as an int32); and `index` and
            // `code` are valid out-pointers.
            let produced = unsafe {
                sys::cuda_inference_next_token(
                    self.as_ptr(),
                    self.piece.as_mut_ptr().cast::<c_char>(),
                    self.piece.len() as c_int,
                    &mut index,
                    &mut code,
                )
            };
            if produced {
                let text = piece_text(&self.piece)?;
                return Ok(Some((text, index as u32)));
            }
            if code == sys::CUDA_ERROR_INVALID_PARAMETER as i32 {
                // The buffer may have been too small: the piece waits, and
                // the library says what it needs.
                let error = CudaError::from_code(code);
                let mut size_code = 0;
                // SAFETY: as above; `size_code` is a valid out-pointer.
                let needed =
                    unsafe { sys::cuda_inference_next_token_size(self.as_ptr(), &mut size_code) };
                if needed > 0 && needed as usize > self.piece.len() {
                    self.piece.resize(needed as usize, 0);
                    continue;
                }
                return Err(error);
            }
            return check(code, None);
        }
    }
}

/// The NUL-terminated text the library wrote into `buffer`.
fn piece_text(buffer: &[u8]) -> Result<String, CudaError> {
    let end = buffer
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| CudaError::Unknown("token text is not NUL-terminated".into()))?;
    String::from_utf8(buffer[..end].to_vec())
        .map_err(|e| CudaError::Unknown(format!("token text is not valid UTF-8: {e}")))
}

impl Iterator for Inference {
    type Item = Result<(String, u32), CudaError>;

    /// [`Inference::next_token`] as an iterator: it ends when generation is
    /// complete, or after yielding an error.
    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let next = self.next_token().transpose();
        if !matches!(next, Some(Ok(_))) {
            self.finished = true;
        }
        next
    }
}

impl FusedIterator for Inference {}
