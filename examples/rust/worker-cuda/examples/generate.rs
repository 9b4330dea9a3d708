//! Streams a completion or a chat reply, as the C example does:
//!
//! ```text
//! cargo run --example generate -- [--chat] MODEL [PROMPT] [MAX_TOKENS]
//! ```
//!
//! With `--chat`, PROMPT is a user message that the chat template in the
//! model's file turns into the prompt. Runs on CUDA device 0 when a GPU is
//! present, else on the CPU. Model facts, per-token timing, the finish
//! reason and the token counts go to stderr.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use worker_cuda::{ChatMessage, Context, CudaError, InferenceParams, DEVICE_CPU};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let chat = args.get(1).map(String::as_str) == Some("--chat");
    if chat {
        args.remove(1);
    }
    if !(2..=4).contains(&args.len()) {
        eprintln!("usage: {} [--chat] MODEL [PROMPT] [MAX_TOKENS]", args[0]);
        return ExitCode::from(2);
    }
    let prompt = args
        .get(2)
        .map_or("The capital of France is", String::as_str);
    let max_tokens = match args.get(3).map(|n| n.parse::<u32>()) {
        None => 32,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("generate: MAX_TOKENS must be a positive integer");
            return ExitCode::from(2);
        }
    };
    match generate(&args[1], prompt, max_tokens, chat) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("generate: {e} (code {})", e.code().raw());
            ExitCode::FAILURE
        }
    }
}

fn generate(model_path: &str, prompt: &str, max_tokens: u32, chat: bool) -> Result<(), CudaError> {
    let device = if Context::device_count() > 0 {
        0
    } else {
        DEVICE_CPU
    };
    // The model keeps its context: no need to hold on to it here.
    let model = Context::new(device)?.load_model(model_path)?;
    let info = model.info()?;
    eprintln!(
        "generate: {} ({}), {} layers, context length {}, {} MiB of weights, chat template: {}",
        info.name,
        info.architecture,
        info.n_layers,
        info.context_length,
        model.vram_bytes() >> 20,
        if info.chat_template.is_some() { "in the file" } else { "none" }
    );

    let params = InferenceParams::new().max_tokens(max_tokens).temperature(0.0);
    let started = Instant::now();
    let mut inference = if chat {
        model.chat(&[ChatMessage::user(prompt)], &params)?
    } else {
        print!("{prompt}");
        model.start_inference_with(prompt, &params)?
    };
    let mut last = started;
    while let Some((text, index)) = inference.next_token()? {
        print!("{text}");
        std::io::stdout().flush().ok();
        eprintln!("[token {index:3}] {:8.2?}", last.elapsed());
        last = Instant::now();
    }
    println!();
    let usage = inference.info()?;
    eprintln!(
        "generate: finish reason {:?}; prompt {} tokens, generated {} tokens",
        usage.finish_reason, usage.prompt_tokens, usage.generated_tokens
    );
    Ok(())
}
