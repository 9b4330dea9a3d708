use std::ffi::CString;
use std::mem;
use std::os::raw::c_char;
use std::ptr;

use worker_cuda_sys as sys;

use crate::error::CudaError;

/// Sampling parameters for [`Model::start_inference_with`](crate::Model::start_inference_with),
/// built in the style of a builder; `InferenceParams::new()` gives the C
/// API's defaults (`WORKER_INFERENCE_PARAMS_INIT`): 128 tokens, temperature
/// 0.8, seed 0, top-k 40, top-p 0.95, min-p 0.05, no repetition penalty, no
/// stop strings, special-token text parsed, no log-probabilities.
///
/// Sampling runs in this order: repetition penalty, temperature, top-k,
/// top-p, min-p, then a draw seeded by `seed`. The library checks the ranges
/// when the inference starts.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct InferenceParams {
    max_tokens: u32,
    temperature: f32,
    seed: u64,
    top_k: u32,
    top_p: f32,
    min_p: f32,
    repetition_penalty: f32,
    stop: Vec<String>,
    parse_special: bool,
    logprobs: bool,
    top_logprobs: u32,
}

impl Default for InferenceParams {
    fn default() -> Self {
        InferenceParams {
            max_tokens: 128,
            temperature: 0.8,
            seed: 0,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repetition_penalty: 1.0,
            stop: Vec::new(),
            parse_special: true,
            logprobs: false,
            top_logprobs: 0,
        }
    }
}

impl InferenceParams {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tokens to generate at most, >= 1.
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    /// Temperature in [0, 2]; 0 selects greedy decoding.
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.temperature = temperature;
        self
    }

    /// Seed of the random draw: the same seed gives the same tokens.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Keep only the `top_k` most likely tokens; 0 turns it off.
    pub fn top_k(mut self, top_k: u32) -> Self {
        self.top_k = top_k;
        self
    }

    /// Nucleus probability mass to keep, in (0, 1]; 1 turns it off.
    pub fn top_p(mut self, top_p: f32) -> Self {
        self.top_p = top_p;
        self
    }

    /// Drop tokens less likely than `min_p` times the most likely one, in
    /// [0, 1); 0 turns it off.
    pub fn min_p(mut self, min_p: f32) -> Self {
        self.min_p = min_p;
        self
    }

    /// Penalty on tokens already in the prompt or the output, > 0; 1 turns
    /// it off.
    pub fn repetition_penalty(mut self, repetition_penalty: f32) -> Self {
        self.repetition_penalty = repetition_penalty;
        self
    }

    /// Strings that end the generation when the output contains them (the
    /// stop string itself is not returned). Replaces earlier stop strings.
    pub fn stop<I, S>(mut self, stop: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.stop = stop.into_iter().map(Into::into).collect();
        self
    }

    /// Whether special-token text in the prompt (`<|im_start|>`, ...) becomes
    /// those tokens (the default, for callers that apply a chat template
    /// themselves); `false` tokenizes the prompt as plain text, for user text
    /// passed literally.
    pub fn parse_special(mut self, parse_special: bool) -> Self {
        self.parse_special = parse_special;
        self
    }

    /// Record each generated token's log-probability, read with
    /// [`Inference::logprobs`](crate::Inference::logprobs) (default off).
    pub fn logprobs(mut self, logprobs: bool) -> Self {
        self.logprobs = logprobs;
        self
    }

    /// Also record the `top_logprobs` most likely tokens of each step, in
    /// [0, 20]; more than 0 turns [`InferenceParams::logprobs`] on.
    pub fn top_logprobs(mut self, top_logprobs: u32) -> Self {
        self.top_logprobs = top_logprobs;
        if top_logprobs > 0 {
            self.logprobs = true;
        }
        self
    }

    /// The stop strings as the C API takes them.
    pub(crate) fn stop_cstrings(&self) -> Result<Vec<CString>, CudaError> {
        self.stop
            .iter()
            .map(|s| {
                CString::new(s.as_bytes()).map_err(|e| {
                    CudaError::InvalidParameter(format!(
                        "stop string {s:?} has a NUL byte at offset {}",
                        e.nul_position()
                    ))
                })
            })
            .collect()
    }

    /// The C struct; `stop` holds pointers to the stop strings, which must
    /// outlive every use of the result.
    pub(crate) fn to_raw(
        &self,
        stop: &[*const c_char],
    ) -> Result<sys::WorkerInferenceParams, CudaError> {
        let too_large =
            |what: &str| CudaError::InvalidParameter(format!("{what} is larger than {}", i32::MAX));
        Ok(sys::WorkerInferenceParams {
            struct_size: mem::size_of::<sys::WorkerInferenceParams>() as u32,
            max_tokens: max_tokens_to_c(self.max_tokens)?,
            temperature: self.temperature,
            seed: self.seed,
            top_k: i32::try_from(self.top_k).map_err(|_| too_large("top_k"))?,
            top_p: self.top_p,
            min_p: self.min_p,
            repetition_penalty: self.repetition_penalty,
            stop: if stop.is_empty() {
                ptr::null()
            } else {
                stop.as_ptr()
            },
            n_stop: i32::try_from(stop.len())
                .map_err(|_| too_large("the number of stop strings"))?,
            parse_special: i32::from(self.parse_special),
            logprobs: i32::from(self.logprobs),
            top_logprobs: i32::try_from(self.top_logprobs)
                .map_err(|_| too_large("top_logprobs"))?,
        })
    }
}

/// `max_tokens` as the C API's `int`.
pub(crate) fn max_tokens_to_c(max_tokens: u32) -> Result<i32, CudaError> {
    i32::try_from(max_tokens).map_err(|_| {
        CudaError::InvalidParameter(format!(
            "max_tokens {max_tokens} is larger than {}",
            i32::MAX
        ))
    })
}
