//! Streams a completion, as the C example does:
//!
//! ```text
//! cargo run --example generate -- MODEL [PROMPT] [MAX_TOKENS]
//! ```
//!
//! Runs on CUDA device 0 when a GPU is present, else on the CPU.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use worker_cuda::{Context, CudaError, DEVICE_CPU};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if !(2..=4).contains(&args.len()) {
        eprintln!("usage: {} MODEL [PROMPT] [MAX_TOKENS]", args[0]);
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
    match generate(&args[1], prompt, max_tokens) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("generate: {e} (code {})", e.code().raw());
            ExitCode::FAILURE
        }
    }
}

fn generate(model_path: &str, prompt: &str, max_tokens: u32) -> Result<(), CudaError> {
    let device = if Context::device_count() > 0 {
        0
    } else {
        DEVICE_CPU
    };
    let ctx = Context::new(device)?;
    let model = ctx.load_model(model_path)?;
    eprintln!("generate: {} MiB of weights", model.vram_bytes() >> 20);

    let started = Instant::now();
    let inference = model.start_inference(prompt, max_tokens, 0.0, 0)?;
    eprintln!("generate: started in {:.1?}", started.elapsed());
    print!("{prompt}");
    let mut last = Instant::now();
    for token in inference {
        let (text, index) = token?;
        print!("{text}");
        std::io::stdout().flush().ok();
        eprintln!("[token {index:3}] {:8.2?}", last.elapsed());
        last = Instant::now();
    }
    println!();
    Ok(())
}
