//! ABI 0.3: token ids, tokenize and detokenize, and what a model is.

use std::ffi::CStr;
use std::fmt;
use std::mem;
use std::os::raw::{c_char, c_int};

use worker_cuda_sys as sys;

use crate::error::{check, CudaError};
use crate::model::{prompt_to_cstring, Model};

/// A token id of a model's vocabulary.
///
/// `#[repr(transparent)]`: a `&[TokenId]` has the layout of the C API's
/// `int32_t` arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct TokenId(pub i32);

impl TokenId {
    /// The id, or `None` for the C API's "none" (-1, or any negative value).
    pub(crate) fn from_raw(id: i32) -> Option<TokenId> {
        if id < 0 {
            None
        } else {
            Some(TokenId(id))
        }
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<i32> for TokenId {
    fn from(id: i32) -> TokenId {
        TokenId(id)
    }
}

impl From<TokenId> for i32 {
    fn from(id: TokenId) -> i32 {
        id.0
    }
}

/// What a loaded model is ([`Model::info`]): `cuda_model_get_info`, with the
/// strings copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// `general.architecture`, e.g. `"llama"`.
    pub architecture: String,
    /// `general.name`, or `""`.
    pub name: String,
    /// The file's Jinja chat template (`tokenizer.chat_template`), if any.
    pub chat_template: Option<String>,
    /// Weight types and their tensor counts, most first, e.g. `("Q4_K", 120)`.
    pub weight_types: Vec<(String, u64)>,
    /// Positions the model was trained for (prompt + generated tokens).
    pub context_length: u32,
    /// Tokens in the vocabulary.
    pub vocab_size: u32,
    /// Beginning of sequence.
    pub bos_token: Option<TokenId>,
    /// End of sequence.
    pub eos_token: Option<TokenId>,
    /// Every token that ends generation (EOS, EOT, ...).
    pub eog_tokens: Vec<TokenId>,
    /// Transformer blocks.
    pub n_layers: u32,
    /// Width of the residual stream.
    pub n_embd: u32,
    /// Attention (query) heads.
    pub n_heads: u32,
    /// Key/value heads.
    pub n_kv_heads: u32,
    /// Elements of all weight tensors.
    pub n_params: u64,
    /// Bytes of weights held on the model's device.
    pub weight_bytes: u64,
}

/// A C string the library owns, copied; NULL gives `None`.
///
/// # Safety
/// `text` is NULL or points to a NUL-terminated string valid for the call.
unsafe fn owned_text(text: *const c_char) -> Option<String> {
    if text.is_null() {
        None
    } else {
        Some(CStr::from_ptr(text).to_string_lossy().into_owned())
    }
}

fn non_negative(value: i32, what: &str) -> Result<u32, CudaError> {
    u32::try_from(value)
        .map_err(|_| CudaError::Unknown(format!("the library reported {what} = {value}")))
}

/// Runs a call that fills a text buffer and returns the size it needs (text
/// plus NUL), growing the buffer to that size when it was too small.
pub(crate) fn sized_text(
    mut call: impl FnMut(*mut c_char, i64, &mut c_int) -> i64,
) -> Result<String, CudaError> {
    let mut buffer = vec![0u8; 1024];
    loop {
        let mut code = 0;
        let needed = call(buffer.as_mut_ptr().cast(), buffer.len() as i64, &mut code);
        if needed > buffer.len() as i64 {
            buffer.resize(needed as usize, 0);
            continue;
        }
        check(code, ())?;
        let length = usize::try_from(needed - 1)
            .map_err(|_| CudaError::Unknown(format!("the library needs {needed} bytes")))?;
        buffer.truncate(length);
        return String::from_utf8(buffer)
            .map_err(|e| CudaError::Unknown(format!("the library's text is not UTF-8: {e}")));
    }
}

impl Model {
    /// The token ids of `text`, as [`Model::start_inference_with`] tokenizes
    /// a prompt with the same `parse_special`.
    ///
    /// `add_special` adds the BOS (and EOS) tokens the model's metadata asks
    /// for; `parse_special` makes special-token text such as `<|im_start|>`
    /// those tokens rather than plain text.
    ///
    /// # Errors
    /// [`CudaError::InvalidParameter`] for a text with a NUL byte.
    pub fn tokenize(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<TokenId>, CudaError> {
        let text = prompt_to_cstring(text)?;
        let mut capacity = text.as_bytes().len() + 4;
        loop {
            let mut ids = vec![TokenId(0); capacity];
            let capacity_c = i32::try_from(capacity)
                .map_err(|_| CudaError::InvalidParameter("the text is too long".into()))?;
            let mut code = 0;
            // SAFETY: `self.as_ptr()` is a live model, `text` is NUL-terminated
            // and outlives the call, `ids` holds `capacity` int32 ids (TokenId
            // is repr(transparent)), and `code` is a valid out-pointer.
            let n = unsafe {
                sys::cuda_tokenize(
                    self.as_ptr(),
                    text.as_ptr(),
                    add_special,
                    parse_special,
                    ids.as_mut_ptr().cast::<i32>(),
                    capacity_c,
                    &mut code,
                )
            };
            if n > capacity_c {
                capacity = n as usize;
                continue;
            }
            check(code, ())?;
            ids.truncate(n as usize);
            return Ok(ids);
        }
    }

    /// The text of token ids: whole UTF-8 characters (an incomplete or
    /// invalid sequence becomes U+FFFD). With `render_special`, control
    /// tokens (BOS, `<|im_end|>`) give their text; without, nothing, as in
    /// generated text.
    ///
    /// # Errors
    /// [`CudaError::InvalidParameter`] for an id outside the vocabulary.
    pub fn detokenize(&self, tokens: &[TokenId], render_special: bool) -> Result<String, CudaError> {
        let n = i32::try_from(tokens.len())
            .map_err(|_| CudaError::InvalidParameter("too many tokens".into()))?;
        sized_text(|out, capacity, code| {
            // SAFETY: `self.as_ptr()` is a live model, `tokens` holds `n`
            // int32 ids (TokenId is repr(transparent)), `out` is writable for
            // `capacity` bytes, and `code` is a valid out-pointer.
            unsafe {
                sys::cuda_detokenize(
                    self.as_ptr(),
                    tokens.as_ptr().cast::<i32>(),
                    n,
                    render_special,
                    out,
                    capacity,
                    code,
                )
            }
        })
    }

    /// What the model is: architecture, name, context length, vocabulary,
    /// special tokens, chat template, weight types and sizes.
    ///
    /// # Errors
    /// Only on a library fault ([`CudaError::Unknown`]).
    pub fn info(&self) -> Result<ModelInfo, CudaError> {
        // SAFETY: WorkerModelInfo is plain data (integers and pointers), for
        // which all zeroes is a valid value.
        let mut raw: sys::WorkerModelInfo = unsafe { mem::zeroed() };
        raw.struct_size = mem::size_of::<sys::WorkerModelInfo>() as u32;
        let mut code = 0;
        // SAFETY: `self.as_ptr()` is a live model; `raw` and `code` are valid
        // out-pointers.
        let ok = unsafe { sys::cuda_model_get_info(self.as_ptr(), &mut raw, &mut code) };
        check(code, ok)?;
        // SAFETY: the strings and the EOG array belong to the model, which
        // `self` keeps loaded while they are copied here.
        let (architecture, name, chat_template, weight_types, eog) = unsafe {
            let eog = if raw.eog_token_ids.is_null() || raw.n_eog_token_ids <= 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(raw.eog_token_ids, raw.n_eog_token_ids as usize)
            };
            (
                owned_text(raw.architecture).unwrap_or_default(),
                owned_text(raw.name).unwrap_or_default(),
                owned_text(raw.chat_template),
                owned_text(raw.weight_types).unwrap_or_default(),
                eog.iter().map(|&id| TokenId(id)).collect(),
            )
        };
        let weight_types = weight_types
            .split(',')
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let (kind, count) = entry.rsplit_once(':').ok_or_else(|| {
                    CudaError::Unknown(format!("weight type entry {entry:?} has no count"))
                })?;
                let count = count.parse().map_err(|_| {
                    CudaError::Unknown(format!("weight type entry {entry:?} has a bad count"))
                })?;
                Ok((kind.to_owned(), count))
            })
            .collect::<Result<_, CudaError>>()?;
        Ok(ModelInfo {
            architecture,
            name,
            chat_template,
            weight_types,
            context_length: raw.context_length,
            vocab_size: non_negative(raw.vocab_size, "vocab_size")?,
            bos_token: TokenId::from_raw(raw.bos_token_id),
            eos_token: TokenId::from_raw(raw.eos_token_id),
            eog_tokens: eog,
            n_layers: non_negative(raw.n_layers, "n_layers")?,
            n_embd: non_negative(raw.n_embd, "n_embd")?,
            n_heads: non_negative(raw.n_heads, "n_heads")?,
            n_kv_heads: non_negative(raw.n_kv_heads, "n_kv_heads")?,
            n_params: raw.n_params,
            weight_bytes: raw.weight_bytes,
        })
    }
}
