use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int};
use std::ptr::NonNull;

use worker_cuda_sys as sys;

use crate::error::{check, CudaError};

/// Size of the first buffer a token's text is read into; it grows when a
/// piece does not fit.
const INITIAL_PIECE_CAPACITY: usize = 256;
/// A piece larger than this is treated as an error rather than grown for.
const MAX_PIECE_CAPACITY: usize = 1 << 24;

/// One running generation on a [`Model`](crate::Model), which it cannot
/// outlive. Pull tokens with [`Inference::next_token`] or iterate over it.
///
/// It may move to another thread (`Send`) but not be shared between threads
/// (not `Sync`), as the C API requires. Dropping it frees the inference
/// (`cuda_inference_free`).
#[derive(Debug)]
pub struct Inference<'model> {
    raw: NonNull<sys::InferenceResult>,
    piece: Vec<u8>,
    finished: bool,
    _model: PhantomData<&'model ()>,
}

// SAFETY: the C API documents that one InferenceResult may move from one
// thread to another between calls. It must not be used by two threads at
// the same time, so Inference is deliberately not Sync (the raw pointer
// field keeps it so).
unsafe impl Send for Inference<'_> {}

impl<'model> Inference<'model> {
    /// Wraps the result of a start call that reported `code`.
    pub(crate) fn from_start(
        code: i32,
        raw: *mut sys::InferenceResult,
    ) -> Result<Inference<'model>, CudaError> {
        let raw = check(code, raw)?;
        let raw = NonNull::new(raw).ok_or_else(|| {
            CudaError::Unknown("cuda_inference_start returned NULL with success".into())
        })?;
        Ok(Inference {
            raw,
            piece: vec![0; INITIAL_PIECE_CAPACITY],
            finished: false,
            _model: PhantomData,
        })
    }

    /// Generates the next token: `Some((text, index))` with its text and
    /// 0-based index, or `None` once generation is complete (end of
    /// sequence, `max_tokens`, or a stop string).
    ///
    /// Text is always whole UTF-8 characters: a character split across
    /// tokens is returned with the token that completes it, so a piece may
    /// be empty.
    ///
    /// # Errors
    /// [`CudaError::InferenceFailed`] or [`CudaError::KernelLaunchFailed`]
    /// when the step fails; the inference cannot continue after that, but
    /// the model stays usable.
    pub fn next_token(&mut self) -> Result<Option<(String, u32)>, CudaError> {
        loop {
            let mut index: c_int = 0;
            let mut code = 0;
            // SAFETY: `self.raw` is a live inference used by this thread only
            // (`&mut self`); `self.piece` is writable for the length given,
            // which fits a c_int (it never exceeds MAX_PIECE_CAPACITY); and
            // `index` and `code` are valid out-pointers.
            let produced = unsafe {
                sys::cuda_inference_next_token(
                    self.raw.as_ptr(),
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
            if code == sys::CUDA_ERROR_INVALID_PARAMETER as i32
                && self.piece.len() < MAX_PIECE_CAPACITY
            {
                // The only argument that can be wrong here is the buffer
                // size; the piece is kept for the next call.
                self.piece.resize(self.piece.len() * 2, 0);
                continue;
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

impl Iterator for Inference<'_> {
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

impl FusedIterator for Inference<'_> {}

impl Drop for Inference<'_> {
    fn drop(&mut self) {
        // SAFETY: `self.raw` came from a start call and is freed only here.
        unsafe { sys::cuda_inference_free(self.raw.as_ptr()) }
    }
}
