//! Real generation with SmolLM2-135M-Instruct on the CPU device.

mod common;

use std::path::Path;

use worker_cuda::{Context, CpuIsa, CudaError, InferenceParams, Model, DEVICE_CPU};

const PROMPT: &str =
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";

/// Loads the model on a CPU context and runs `test` on it; skips (see
/// `common::smollm2`) when the model is not fetched.
fn with_model(test: impl FnOnce(&Model)) {
    let path = match common::smollm2() {
        Some(path) => path,
        None => return,
    };
    let ctx = Context::new(DEVICE_CPU).expect("CPU context");
    let model = load(&ctx, &path);
    test(&model);
}

fn load(ctx: &Context, path: &Path) -> Model {
    ctx.load_model(path)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

fn greedy(model: &Model, max_tokens: u32) -> Vec<(String, u32)> {
    model
        .start_inference(PROMPT, max_tokens, 0.0, 0)
        .expect("start")
        .collect::<Result<_, _>>()
        .expect("generation")
}

fn text(tokens: &[(String, u32)]) -> String {
    tokens.iter().map(|(text, _)| text.as_str()).collect()
}

#[test]
fn the_model_is_loaded_and_resident() {
    with_model(|model| {
        assert!(
            model.vram_bytes() > 50_000_000,
            "{} bytes of weights",
            model.vram_bytes()
        );
        assert_eq!(model.check_vram_residency(), Ok(true));
    });
}

#[test]
fn greedy_generation_answers_and_is_deterministic() {
    with_model(|model| {
        let tokens = greedy(model, 24);
        assert!(!tokens.is_empty() && tokens.len() <= 24, "{tokens:?}");
        let indices: Vec<u32> = tokens.iter().map(|(_, i)| *i).collect();
        assert_eq!(indices, (0..tokens.len() as u32).collect::<Vec<_>>());
        assert!(text(&tokens).contains("Paris"), "{:?}", text(&tokens));
        assert_eq!(greedy(model, 24), tokens);
    });
}

#[test]
fn next_token_reports_completion_and_keeps_reporting_it() {
    with_model(|model| {
        let mut inference = model.start_inference(PROMPT, 3, 0.0, 0).unwrap();
        let mut count = 0;
        while let Some((_, index)) = inference.next_token().unwrap() {
            assert_eq!(index, count);
            count += 1;
        }
        assert!((1..=3).contains(&count));
        assert_eq!(inference.next_token(), Ok(None));
        assert!(inference.next().is_none());
    });
}

#[test]
fn sampling_is_reproducible_by_seed() {
    with_model(|model| {
        let params = InferenceParams::new()
            .max_tokens(16)
            .temperature(1.0)
            .top_k(0)
            .top_p(1.0)
            .min_p(0.0);
        let run = |seed| -> String {
            model
                .start_inference_with(PROMPT, &params.clone().seed(seed))
                .unwrap()
                .map(|token| token.map(|(text, _)| text))
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let first = run(7);
        assert_eq!(run(7), first);
        let others: Vec<String> = (8..12).map(run).collect();
        assert!(
            others.iter().any(|other| *other != first),
            "every seed gave {first:?}"
        );
    });
}

#[test]
fn a_stop_string_ends_generation_and_is_not_returned() {
    with_model(|model| {
        let free = text(&greedy(model, 24));
        let stop = "Paris";
        let at = free
            .find(stop)
            .unwrap_or_else(|| panic!("{free:?} has no {stop:?}"));
        let params = InferenceParams::new()
            .max_tokens(24)
            .temperature(0.0)
            .stop([stop]);
        let stopped: String = model
            .start_inference_with(PROMPT, &params)
            .unwrap()
            .map(|token| token.map(|(text, _)| text))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(stopped, free[..at]);
    });
}

#[test]
fn bad_arguments_are_invalid_parameters() {
    with_model(|model| {
        let nul = model
            .start_inference("Hello\0world", 8, 0.0, 0)
            .unwrap_err();
        assert!(matches!(nul, CudaError::InvalidParameter(_)), "{nul:?}");
        assert!(nul.detail().contains("NUL"));

        let zero = model.start_inference(PROMPT, 0, 0.0, 0).unwrap_err();
        assert!(matches!(zero, CudaError::InvalidParameter(_)), "{zero:?}");
        let huge = model.start_inference(PROMPT, u32::MAX, 0.0, 0).unwrap_err();
        assert!(matches!(huge, CudaError::InvalidParameter(_)), "{huge:?}");

        let bad = [
            InferenceParams::new().top_p(0.0),
            InferenceParams::new().min_p(1.0),
            InferenceParams::new().temperature(-1.0),
            InferenceParams::new().repetition_penalty(0.0),
            InferenceParams::new().stop([""]),
            InferenceParams::new().stop(["a\0b"]),
        ];
        for params in &bad {
            let error = model.start_inference_with(PROMPT, params).unwrap_err();
            assert!(
                matches!(error, CudaError::InvalidParameter(_)),
                "{params:?}: {error:?}"
            );
            assert!(!error.detail().is_empty());
        }
        // The model stays usable.
        assert!(!greedy(model, 2).is_empty());
    });
}

#[test]
fn threads_share_a_model_each_with_its_own_inference() {
    with_model(|model| {
        let expected = greedy(model, 12);
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4).map(|_| scope.spawn(|| greedy(model, 12))).collect();
            for worker in workers {
                assert_eq!(worker.join().unwrap(), expected);
            }
        });
    });
}

#[test]
fn an_inference_moves_between_threads() {
    with_model(|model| {
        let expected = greedy(model, 6);
        let mut inference = model.start_inference(PROMPT, 6, 0.0, 0).unwrap();
        let first = inference.next_token().unwrap().expect("a first token");
        let rest = std::thread::scope(|scope| {
            scope
                .spawn(move || inference.collect::<Result<Vec<_>, _>>())
                .join()
                .unwrap()
        })
        .unwrap();
        let mut all = vec![first];
        all.extend(rest);
        assert_eq!(all, expected);
    });
}

#[test]
fn characters_split_across_tokens_come_out_whole() {
    with_model(|model| {
        // Each emoji is four bytes that the model produces as several tokens.
        let tokens = model
            .start_inference("Emojis: 😀😃😄😁😆😅😂🤣", 30, 0.0, 0)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let text = text(&tokens);
        assert!(text.chars().any(|c| u32::from(c) > 0xFFFF), "{text:?}");
        assert!(!text.contains('\u{FFFD}'), "{text:?}");
        let last_index = tokens.last().map(|(_, index)| *index).unwrap();
        assert!(last_index as usize + 1 > text.chars().count(), "{tokens:?}");
    });
}

#[test]
fn contexts_at_every_cpu_level_generate_the_same_tokens() {
    let path = match common::smollm2() {
        Some(path) => path,
        None => return,
    };
    let outputs: Vec<Vec<(String, u32)>> = [CpuIsa::Scalar, CpuIsa::Avx2, CpuIsa::Avx512]
        .into_iter()
        .map(|isa| {
            let ctx = Context::builder(DEVICE_CPU)
                .cpu_isa(isa)
                .cpu_threads(2)
                .build()
                .expect("CPU context");
            let model = load(&ctx, &path);
            greedy(&model, 8)
        })
        .collect();
    assert!(!outputs[0].is_empty());
    assert_eq!(outputs[1], outputs[0], "avx2 against scalar");
    assert_eq!(outputs[2], outputs[0], "avx512 against scalar");
}
