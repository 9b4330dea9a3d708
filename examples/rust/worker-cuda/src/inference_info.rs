//! ABI 0.3: what an inference used, why it ended, log-probabilities, and
//! cancelling from another thread.

use std::mem;
use std::sync::{Arc, Weak};

use worker_cuda_sys as sys;

use crate::error::{check, CudaError, CudaErrorCode};
use crate::inference::{Inference, InferenceHandle};
use crate::tokens::TokenId;

/// Why an inference stopped generating (the C API's `WorkerFinishReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinishReason {
    /// The model generated an end-of-generation token.
    Eos,
    /// `max_tokens` tokens were generated.
    MaxTokens,
    /// A stop string was generated (it is not returned).
    Stop,
    /// [`Canceller::cancel`] or [`Inference::cancel`] ended it.
    Cancelled,
    /// A step failed; [`InferenceInfo::error`] says how.
    Error,
}

impl FinishReason {
    /// The reason for a C value: `None` for `WORKER_FINISH_NONE` (still
    /// generating); values this crate does not know are [`FinishReason::Error`].
    pub fn from_raw(reason: i32) -> Option<FinishReason> {
        match reason as u32 {
            sys::WORKER_FINISH_NONE => None,
            sys::WORKER_FINISH_EOS => Some(FinishReason::Eos),
            sys::WORKER_FINISH_MAX_TOKENS => Some(FinishReason::MaxTokens),
            sys::WORKER_FINISH_STOP => Some(FinishReason::Stop),
            sys::WORKER_FINISH_CANCELLED => Some(FinishReason::Cancelled),
            _ => Some(FinishReason::Error),
        }
    }

    /// The C value.
    pub fn raw(self) -> i32 {
        (match self {
            FinishReason::Eos => sys::WORKER_FINISH_EOS,
            FinishReason::MaxTokens => sys::WORKER_FINISH_MAX_TOKENS,
            FinishReason::Stop => sys::WORKER_FINISH_STOP,
            FinishReason::Cancelled => sys::WORKER_FINISH_CANCELLED,
            FinishReason::Error => sys::WORKER_FINISH_ERROR,
        }) as i32
    }
}

/// What an inference used and why it ended ([`Inference::info`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InferenceInfo {
    /// Tokens of the prompt as tokenized (BOS included).
    pub prompt_tokens: u32,
    /// Tokens generated so far, an end-of-generation token included.
    pub generated_tokens: u32,
    /// Why it ended; `None` while generating or while text is still to be read.
    pub finish_reason: Option<FinishReason>,
    /// The last generated token; `None` before the first.
    pub last_token: Option<TokenId>,
    /// With [`FinishReason::Error`]: the failed step's code.
    pub error: Option<CudaErrorCode>,
}

/// A generated token's log-probability (natural log) under the model's own
/// distribution at its step — before repetition penalty, temperature and
/// truncation — and the most likely tokens of that step.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprobs {
    /// The token chosen.
    pub token: TokenId,
    /// `log p(token)`.
    pub logprob: f32,
    /// The `top_logprobs` most likely tokens, most likely first (ties to the
    /// lower id).
    pub top: Vec<(TokenId, f32)>,
}

/// Cancels an [`Inference`] from any thread: `Clone`, `Send`, `Sync`,
/// `'static`. Made by [`Inference::canceller`].
///
/// It does not keep the inference alive: once the inference is dropped,
/// cancelling does nothing.
///
/// ```no_run
/// # use worker_cuda::{Context, InferenceParams, DEVICE_CPU};
/// # fn main() -> Result<(), worker_cuda::CudaError> {
/// # let model = Context::new(DEVICE_CPU)?.load_model("model.gguf")?;
/// let mut inference = model.start_inference_with("Once upon a time", &InferenceParams::new())?;
/// let canceller = inference.canceller();
/// let consumer = std::thread::spawn(move || inference.by_ref().count());
/// canceller.cancel(); // the consumer's loop ends within one step
/// consumer.join().unwrap();
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Canceller {
    handle: Weak<InferenceHandle>,
}

impl Canceller {
    /// Stops the inference: it takes effect at the next prefill chunk or
    /// decode step, and a consumer then sees the end of generation, with
    /// [`FinishReason::Cancelled`]. Never waits. Returns whether the
    /// inference was still alive.
    pub fn cancel(&self) -> bool {
        match self.handle.upgrade() {
            Some(handle) => {
                cancel(&handle);
                true
            }
            None => false,
        }
    }
}

fn cancel(handle: &Arc<InferenceHandle>) {
    // SAFETY: the handle is alive (held by `handle`); cuda_inference_cancel is
    // documented as safe from any thread, during any call on the inference,
    // and the error-code pointer may be NULL.
    unsafe {
        sys::cuda_inference_cancel(handle.as_ptr(), std::ptr::null_mut());
    }
}

impl Inference {
    /// A [`Canceller`] that stops this inference from another thread.
    pub fn canceller(&self) -> Canceller {
        Canceller {
            handle: Arc::downgrade(&self.handle),
        }
    }

    /// Stops the inference (see [`Canceller::cancel`]); the next
    /// [`Inference::next_token`] reports the end of generation.
    pub fn cancel(&self) {
        cancel(&self.handle);
    }

    /// Tokens used so far and why generation ended.
    ///
    /// # Errors
    /// Only on a library fault.
    pub fn info(&self) -> Result<InferenceInfo, CudaError> {
        let mut raw = sys::WorkerInferenceInfo {
            struct_size: mem::size_of::<sys::WorkerInferenceInfo>() as u32,
            prompt_tokens: 0,
            generated_tokens: 0,
            finish_reason: 0,
            last_token_id: -1,
            error_code: 0,
        };
        let mut code = 0;
        // SAFETY: `self.as_ptr()` is a live inference, used by this thread
        // only (Inference is not Sync); `raw` and `code` are valid out-pointers.
        let ok = unsafe { sys::cuda_inference_get_info(self.as_ptr(), &mut raw, &mut code) };
        check(code, ok)?;
        let count = |value: i32| u32::try_from(value).unwrap_or(0);
        Ok(InferenceInfo {
            prompt_tokens: count(raw.prompt_tokens),
            generated_tokens: count(raw.generated_tokens),
            finish_reason: FinishReason::from_raw(raw.finish_reason),
            last_token: TokenId::from_raw(raw.last_token_id),
            error: match raw.error_code {
                0 => None,
                code => Some(CudaErrorCode::from_raw(code).unwrap_or(CudaErrorCode::Unknown)),
            },
        })
    }

    /// The log-probabilities of generated token `index` (0-based, as
    /// [`Inference::next_token`] numbers them), when the inference was
    /// started with [`InferenceParams::logprobs`](crate::InferenceParams::logprobs).
    ///
    /// # Errors
    /// [`CudaError::InvalidParameter`] when log-probabilities were not
    /// requested or the token does not exist (yet).
    pub fn logprobs(&self, index: u32) -> Result<TokenLogprobs, CudaError> {
        let index = i32::try_from(index)
            .map_err(|_| CudaError::InvalidParameter(format!("token index {index} is too large")))?;
        let mut top = vec![
            sys::WorkerTokenLogprob {
                token_id: 0,
                logprob: 0.0
            };
            20
        ];
        loop {
            let mut chosen = sys::WorkerTokenLogprob {
                token_id: 0,
                logprob: 0.0,
            };
            let mut code = 0;
            // SAFETY: `self.as_ptr()` is a live inference used by this thread
            // only; `chosen` and `code` are valid out-pointers and `top` holds
            // the capacity given.
            let n = unsafe {
                sys::cuda_inference_get_logprobs(
                    self.as_ptr(),
                    index,
                    &mut chosen,
                    top.as_mut_ptr(),
                    top.len() as i32,
                    &mut code,
                )
            };
            check(code, ())?;
            let n = usize::try_from(n).unwrap_or(0);
            if n > top.len() {
                top.resize(n, top[0]);
                continue;
            }
            return Ok(TokenLogprobs {
                token: TokenId(chosen.token_id),
                logprob: chosen.logprob,
                top: top[..n]
                    .iter()
                    .map(|entry| (TokenId(entry.token_id), entry.logprob))
                    .collect(),
            });
        }
    }
}
