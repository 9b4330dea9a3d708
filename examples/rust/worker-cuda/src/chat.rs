//! ABI 0.3: chat templates from the model's file.

use std::ffi::CString;
use std::mem;
use std::os::raw::c_char;
use std::ptr;

use worker_cuda_sys as sys;

use crate::error::CudaError;
use crate::inference::Inference;
use crate::model::Model;
use crate::params::InferenceParams;
use crate::tokens::sized_text;

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `"system"`, `"user"`, `"assistant"`, `"tool"`, ...
    pub role: String,
    /// The text; `None`: the message has no `content` key.
    pub content: Option<String>,
}

impl ChatMessage {
    /// A message with this role and content.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: role.into(),
            content: Some(content.into()),
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> ChatMessage {
        ChatMessage::new("system", content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage::new("user", content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> ChatMessage {
        ChatMessage::new("assistant", content)
    }
}

/// Options of [`Model::apply_chat_template`]; `ChatOptions::new()` renders
/// with the model's own template and adds the generation prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ChatOptions {
    add_generation_prompt: bool,
    template: Option<String>,
    tools_json: Option<String>,
    extra_json: Option<String>,
}

impl Default for ChatOptions {
    fn default() -> Self {
        ChatOptions {
            add_generation_prompt: true,
            template: None,
            tools_json: None,
            extra_json: None,
        }
    }
}

impl ChatOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to end with the opening of the assistant's turn (default true).
    pub fn add_generation_prompt(mut self, add: bool) -> Self {
        self.add_generation_prompt = add;
        self
    }

    /// A Jinja chat template to use instead of the model's.
    pub fn template(mut self, template: impl Into<String>) -> Self {
        self.template = Some(template.into());
        self
    }

    /// A JSON array of tool schemas, for templates that show tools.
    pub fn tools_json(mut self, tools: impl Into<String>) -> Self {
        self.tools_json = Some(tools.into());
        self
    }

    /// A JSON object of more template variables, e.g. `{"enable_thinking": false}`.
    pub fn extra_json(mut self, extra: impl Into<String>) -> Self {
        self.extra_json = Some(extra.into());
        self
    }
}

fn c_text(text: &str, what: &str) -> Result<CString, CudaError> {
    CString::new(text).map_err(|e| {
        CudaError::InvalidParameter(format!(
            "{what} has a NUL byte at offset {}",
            e.nul_position()
        ))
    })
}

fn optional_c_text(text: &Option<String>, what: &str) -> Result<Option<CString>, CudaError> {
    text.as_deref().map(|text| c_text(text, what)).transpose()
}

fn ptr_of(text: &Option<CString>) -> *const c_char {
    text.as_ref().map_or(ptr::null(), |text| text.as_ptr())
}

impl Model {
    /// Renders a conversation with the model's chat template (its GGUF
    /// `tokenizer.chat_template`), giving the prompt text: byte for byte
    /// what Hugging Face transformers' `apply_chat_template(...,
    /// tokenize=False)` gives.
    ///
    /// ```no_run
    /// # use worker_cuda::{ChatMessage, ChatOptions, Context, DEVICE_CPU};
    /// # fn main() -> Result<(), worker_cuda::CudaError> {
    /// # let model = Context::new(DEVICE_CPU)?.load_model("model.gguf")?;
    /// let prompt = model.apply_chat_template(
    ///     &[ChatMessage::system("Be brief."), ChatMessage::user("Hi!")],
    ///     &ChatOptions::new(),
    /// )?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`CudaError::InvalidParameter`]: an empty role, a NUL byte, invalid
    /// JSON, a model without a template (and none given), or a template that
    /// fails (the detail names its line and the cause).
    pub fn apply_chat_template(
        &self,
        messages: &[ChatMessage],
        options: &ChatOptions,
    ) -> Result<String, CudaError> {
        let texts = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                Ok((
                    c_text(&m.role, &format!("messages[{i}].role"))?,
                    optional_c_text(&m.content, &format!("messages[{i}].content"))?,
                ))
            })
            .collect::<Result<Vec<_>, CudaError>>()?;
        let raw_messages: Vec<sys::WorkerChatMessage> = texts
            .iter()
            .map(|(role, content)| sys::WorkerChatMessage {
                role: role.as_ptr(),
                content: ptr_of(content),
            })
            .collect();
        let n_messages = i32::try_from(raw_messages.len())
            .map_err(|_| CudaError::InvalidParameter("too many messages".into()))?;
        let template = optional_c_text(&options.template, "the template")?;
        let tools = optional_c_text(&options.tools_json, "tools_json")?;
        let extra = optional_c_text(&options.extra_json, "extra_json")?;
        let params = sys::WorkerChatParams {
            struct_size: mem::size_of::<sys::WorkerChatParams>() as u32,
            add_generation_prompt: i32::from(options.add_generation_prompt),
            template_text: ptr_of(&template),
            tools_json: ptr_of(&tools),
            extra_json: ptr_of(&extra),
        };
        sized_text(|out, capacity, code| {
            // SAFETY: `self.as_ptr()` is a live model; `raw_messages`,
            // `params` and the strings they point to (`texts`, `template`,
            // `tools`, `extra`) outlive the call; `out` is writable for
            // `capacity` bytes and `code` is a valid out-pointer.
            unsafe {
                sys::cuda_chat_apply_template(
                    self.as_ptr(),
                    raw_messages.as_ptr(),
                    n_messages,
                    &params,
                    out,
                    capacity,
                    code,
                )
            }
        })
    }

    /// Starts the assistant's reply to a conversation: renders it with the
    /// model's chat template (generation prompt added) and generates from
    /// that with `params` (special-token text parsed, as the template needs;
    /// special-token text inside the messages is parsed too, so filter
    /// untrusted text for it).
    ///
    /// # Errors
    /// As [`Model::apply_chat_template`] and [`Model::start_inference_with`].
    pub fn chat(
        &self,
        messages: &[ChatMessage],
        params: &InferenceParams,
    ) -> Result<Inference, CudaError> {
        let prompt = self.apply_chat_template(messages, &ChatOptions::new())?;
        self.start_inference_with(&prompt, &params.clone().parse_special(true))
    }
}
