//! The ABI 0.3 calls through the safe crate, with SmolLM2-135M-Instruct on
//! the CPU device: handles without lifetimes in a long-lived worker and in
//! spawned threads, tokens against llama.cpp's ids, model facts, the file's
//! chat template, finish reasons, log-probabilities and cancel.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::Json;
use worker_cuda::{
    ChatMessage, ChatOptions, Context, CudaError, FinishReason, Inference, InferenceParams, Model,
    TokenId, DEVICE_CPU,
};

const QUESTION: &str = "What is the capital of France?";

/// SmolLM2's template (its tokenizer.chat_template) worked out by hand for
/// one user message, with the generation prompt.
const QUESTION_PROMPT: &str = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, \
trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n\
<|im_start|>assistant\n";

fn model_path() -> Option<PathBuf> {
    common::smollm2()
}

/// Loads the model; the context is a temporary that the model keeps alive.
fn load(path: &Path) -> Model {
    Context::new(DEVICE_CPU)
        .expect("CPU context")
        .load_model(path)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

fn greedy(max_tokens: u32) -> InferenceParams {
    InferenceParams::new()
        .max_tokens(max_tokens)
        .temperature(0.0)
}

fn collect(inference: Inference) -> String {
    inference
        .map(|token| token.map(|(text, _)| text))
        .collect::<Result<String, CudaError>>()
        .expect("generation")
}

// ---- handles without lifetimes --------------------------------------------

/// What a serving process keeps for its whole life: no borrow ties the model
/// to a context variable.
struct Worker {
    model: Model,
    params: InferenceParams,
}

impl Worker {
    fn new(path: &Path) -> Worker {
        let context = Context::new(DEVICE_CPU).expect("CPU context");
        let model = context.load_model(path).expect("load");
        // `context` is dropped here: the model holds its own reference.
        Worker {
            model,
            params: greedy(8),
        }
    }

    fn answer(&self, question: &str) -> Result<String, CudaError> {
        let inference = self
            .model
            .chat(&[ChatMessage::user(question)], &self.params)?;
        Ok(collect(inference))
    }
}

#[test]
fn a_long_lived_worker_and_its_inferences_move_into_threads() {
    let path = match model_path() {
        Some(path) => path,
        None => return,
    };
    let worker = Worker::new(&path);
    let expected = worker.answer(QUESTION).unwrap();
    assert!(!expected.is_empty());

    // The worker itself moves into a thread.
    let spawned = thread::spawn(move || worker.answer(QUESTION).map(|text| (text, worker)));
    let (text, worker) = spawned.join().unwrap().unwrap();
    assert_eq!(text, expected);

    // Shared by several threads.
    let shared = Arc::new(worker);
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let shared = Arc::clone(&shared);
            thread::spawn(move || shared.answer(QUESTION).unwrap())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), expected);
    }

    // An inference moves into a thread on its own, after its model was dropped here.
    let inference = shared
        .model
        .chat(&[ChatMessage::user(QUESTION)], &shared.params)
        .unwrap();
    drop(shared);
    assert_eq!(thread::spawn(move || collect(inference)).join().unwrap(), expected);
}

// ---- tokens --------------------------------------------------------------------

#[test]
fn token_ids_are_llama_cpps() {
    let path = match model_path() {
        Some(path) => path,
        None => return,
    };
    let model = load(&path);
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../tests/data/tokenizer/model-smollm2.json");
    let data = Json::parse(&std::fs::read_to_string(&file).expect("llama.cpp's token ids"));
    let cases = match data.get("cases") {
        Some(Json::Array(cases)) => cases,
        other => panic!("no cases: {other:?}"),
    };
    let mut checked = 0;
    for case in cases {
        // Cases given as hex are invalid UTF-8, which a &str cannot hold.
        let text = match case.get("text") {
            Some(Json::String(text)) => text,
            _ => continue,
        };
        let flag = |key| matches!(case.get(key), Some(Json::Bool(true)));
        let expected: Vec<TokenId> = match case.get("ids") {
            Some(Json::Array(ids)) => ids
                .iter()
                .map(|id| match id {
                    Json::Number(n) => TokenId(*n as i32),
                    other => panic!("bad id {other:?}"),
                })
                .collect(),
            other => panic!("no ids: {other:?}"),
        };
        let (add_special, parse_special) = (flag("add_special"), flag("parse_special"));
        let ids = model.tokenize(text, add_special, parse_special).unwrap();
        assert_eq!(ids, expected, "{text:?} add_special={add_special} parse_special={parse_special}");
        assert_eq!(&model.detokenize(&ids, parse_special).unwrap(), text);
        checked += 1;
    }
    assert!(checked > 300, "{checked} cases");
}

#[test]
fn token_misuse_is_refused() {
    let path = match model_path() {
        Some(path) => path,
        None => return,
    };
    let model = load(&path);
    let vocab = model.info().unwrap().vocab_size as i32;
    let error = model.detokenize(&[TokenId(1), TokenId(vocab)], false).unwrap_err();
    assert!(matches!(error, CudaError::InvalidParameter(_)), "{error:?}");
    assert!(error.detail().contains("vocabulary"), "{error}");
    assert!(matches!(
        model.tokenize("a\0b", false, false),
        Err(CudaError::InvalidParameter(_))
    ));
    assert_eq!(model.tokenize("", false, false).unwrap(), vec![]);
    assert_eq!(model.detokenize(&[], false).unwrap(), "");
    let im_start = model.tokenize("<|im_start|>", false, true).unwrap();
    assert_eq!(im_start.len(), 1);
    assert_eq!(model.detokenize(&im_start, false).unwrap(), "");
    assert_eq!(model.detokenize(&im_start, true).unwrap(), "<|im_start|>");
    // A long text: the buffer grows to the size the library asks for.
    let long = "Paris, the capital of France. ".repeat(200);
    let ids = model.tokenize(&long, false, false).unwrap();
    assert_eq!(model.detokenize(&ids, false).unwrap(), long);
}

// ---- model facts -------------------------------------------------------------------

#[test]
fn model_info_is_what_the_file_says() {
    let path = match model_path() {
        Some(path) => path,
        None => return,
    };
    let model = load(&path);
    let info = model.info().unwrap();
    // Values as the gguf Python package (0.19.0) reads them from the file.
    assert_eq!(info.architecture, "llama");
    assert_eq!(info.name, "Smollm2 135M 8k Lc100K Mix1 Ep2");
    assert_eq!(info.context_length, 8192);
    assert_eq!(info.vocab_size, 49152);
    assert_eq!(info.n_layers, 30);
    assert_eq!(info.n_embd, 576);
    assert_eq!(info.n_heads, 9);
    assert_eq!(info.n_kv_heads, 3);
    assert_eq!(info.bos_token, Some(TokenId(1)));
    assert_eq!(info.eos_token, Some(TokenId(2)));
    assert!(info.eog_tokens.contains(&TokenId(2)), "{:?}", info.eog_tokens);
    assert_eq!(
        info.weight_types,
        vec![("Q4_1".to_owned(), 210), ("F32".to_owned(), 61), ("Q8_0".to_owned(), 1)]
    );
    assert_eq!(info.n_params, 134_515_008);
    assert_eq!(info.weight_bytes, model.vram_bytes());
    let template = info.chat_template.expect("SmolLM2 has a chat template");
    assert!(template.starts_with("{% for message in messages %}"), "{template}");
}

// ---- chat templates ------------------------------------------------------------------

#[test]
fn the_files_chat_template_renders_a_conversation() {
    let path = match model_path() {
        Some(path) => path,
        None => return,
    };
    let model = load(&path);
    let question = [ChatMessage::user(QUESTION)];
    assert_eq!(
        model.apply_chat_template(&question, &ChatOptions::new()).unwrap(),
        QUESTION_PROMPT
    );
    let without = model
        .apply_chat_template(&question, &ChatOptions::new().add_generation_prompt(false))
        .unwrap();
    assert_eq!(without, QUESTION_PROMPT.trim_end_matches("<|im_start|>assistant\n"));
    let turns = [
        ChatMessage::system("Be brief."),
        ChatMessage::user("Hi"),
        ChatMessage::assistant("Hello!"),
    ];
    assert_eq!(
        model.apply_chat_template(&turns, &ChatOptions::new()).unwrap(),
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
         <|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>assistant\n"
    );
    // A template of one's own, with tools and variables.
    let own = ChatOptions::new()
        .template("{% for t in tools %}{{ t.name }};{% endfor %}{{ messages[0].content }}{% if loud %}!{% endif %}")
        .tools_json(r#"[{"name": "search"}, {"name": "calc"}]"#)
        .extra_json(r#"{"loud": true}"#);
    assert_eq!(
        model.apply_chat_template(&question, &own).unwrap(),
        format!("search;calc;{QUESTION}!")
    );
    let failing = ChatOptions::new().template("{{ raise_exception('no system role') }}");
    let error = model.apply_chat_template(&question, &failing).unwrap_err();
    assert!(error.detail().contains("no system role"), "{error}");
    let error = model
        .apply_chat_template(&[ChatMessage::new("", "x")], &ChatOptions::new())
        .unwrap_err();
    assert!(matches!(error, CudaError::InvalidParameter(_)), "{error:?}");
}

#[test]
fn chat_generates_from_the_rendered_template() {
    let path = match model_path() {
        Some(path) => path,
        None => return,
    };
    let model = load(&path);
    let chat = model
        .chat(&[ChatMessage::user(QUESTION)], &greedy(10))
        .unwrap();
    let info_prompt = chat.info().unwrap().prompt_tokens;
    assert_eq!(
        info_prompt as usize,
        model.tokenize(QUESTION_PROMPT, true, true).unwrap().len()
    );
    let direct = model.start_inference_with(QUESTION_PROMPT, &greedy(10)).unwrap();
    assert_eq!(collect(chat), collect(direct));
}

// ---- finish reasons and usage ----------------------------------------------------------

#[test]
fn finish_reasons_and_usage() {
    let path = match model_path() {
        Some(path) => path,
        None => return,
    };
    let model = load(&path);
    let question = [ChatMessage::user(QUESTION)];

    let mut inference = model.chat(&question, &greedy(12)).unwrap();
    let before = inference.info().unwrap();
    assert_eq!(before.generated_tokens, 0);
    assert_eq!(before.finish_reason, None);
    assert_eq!(before.last_token, None);
    let mut text = String::new();
    while let Some((piece, _)) = inference.next_token().unwrap() {
        text.push_str(&piece);
    }
    let info = inference.info().unwrap();
    assert_eq!(info.finish_reason, Some(FinishReason::MaxTokens));
    assert_eq!(info.generated_tokens, 12);
    assert_eq!(info.error, None);
    assert!(info.last_token.is_some());

    let hi = model
        .chat(&[ChatMessage::user("Say hi.")], &greedy(200))
        .unwrap();
    let mut hi_inference = hi;
    while hi_inference.next_token().unwrap().is_some() {}
    let info = hi_inference.info().unwrap();
    assert_eq!(info.finish_reason, Some(FinishReason::Eos));
    let eog = model.info().unwrap().eog_tokens;
    assert!(eog.contains(&info.last_token.unwrap()), "{info:?}");
    assert!(info.generated_tokens < 200);

    let word = text
        .split_whitespace()
        .nth(1)
        .expect("two words")
        .to_owned();
    let mut stopped = model
        .chat(&question, &greedy(12).stop([word.clone()]))
        .unwrap();
    let mut stopped_text = String::new();
    while let Some((piece, _)) = stopped.next_token().unwrap() {
        stopped_text.push_str(&piece);
    }
    assert_eq!(stopped_text, text[..text.find(&word).unwrap()]);
    assert_eq!(stopped.info().unwrap().finish_reason, Some(FinishReason::Stop));
    assert_eq!(FinishReason::from_raw(FinishReason::Stop.raw()), Some(FinishReason::Stop));
    assert_eq!(FinishReason::from_raw(0), None);
}

// ---- log-probabilities ------------------------------------------------------------------

#[test]
fn logprobs_of_greedy_generation() {
    let path = match model_path() {
        Some(path) => path,
        None => return,
    };
    let model = load(&path);
    let mut inference = model
        .chat(&[ChatMessage::user(QUESTION)], &greedy(6).top_logprobs(4))
        .unwrap();
    let mut text = String::new();
    while let Some((piece, _)) = inference.next_token().unwrap() {
        text.push_str(&piece);
    }
    let info = inference.info().unwrap();
    let mut chosen = Vec::new();
    for index in 0..info.generated_tokens {
        let entry = inference.logprobs(index).unwrap();
        assert_eq!(entry.top.len(), 4);
        assert!(entry.top.windows(2).all(|w| w[0].1 >= w[1].1), "{entry:?}");
        assert!(entry.top.iter().all(|(_, logprob)| *logprob <= 0.0));
        let mass: f32 = entry.top.iter().map(|(_, logprob)| logprob.exp()).sum();
        assert!(mass <= 1.0 + 1e-5, "{mass}");
        // Greedy takes the most likely token.
        assert_eq!((entry.token, entry.logprob), entry.top[0]);
        chosen.push(entry.token);
    }
    assert_eq!(Some(*chosen.last().unwrap()), info.last_token);
    assert_eq!(model.detokenize(&chosen, false).unwrap(), text);
    let error = inference.logprobs(info.generated_tokens).unwrap_err();
    assert!(matches!(error, CudaError::InvalidParameter(_)), "{error:?}");

    let mut plain = model.start_inference_with(QUESTION_PROMPT, &greedy(2)).unwrap();
    plain.next_token().unwrap();
    assert!(matches!(plain.logprobs(0), Err(CudaError::InvalidParameter(_))));
    assert!(matches!(
        model.start_inference_with(QUESTION_PROMPT, &greedy(2).top_logprobs(21)),
        Err(CudaError::InvalidParameter(_))
    ));
}

// ---- cancel ---------------------------------------------------------------------------------

#[test]
fn a_canceller_stops_a_consumer_in_another_thread() {
    let path = match model_path() {
        Some(path) => path,
        None => return,
    };
    let model = load(&path);
    let mut inference = model.start_inference_with(QUESTION_PROMPT, &greedy(300)).unwrap();
    let canceller = inference.canceller();
    let (first, got_first) = mpsc::channel();
    let consumer = thread::spawn(move || {
        let mut count = 0;
        while let Some(_piece) = inference.next_token()? {
            count += 1;
            if count == 1 {
                first.send(()).unwrap();
            }
        }
        Ok::<_, CudaError>((count, inference.info()?))
    });
    got_first.recv().expect("a first piece");
    assert!(canceller.cancel());
    let (count, info) = consumer.join().unwrap().unwrap();
    assert_eq!(info.finish_reason, Some(FinishReason::Cancelled));
    assert!(count >= 1 && info.generated_tokens < 300, "{count} {info:?}");
    // The inference is gone: cancelling does nothing.
    assert!(!canceller.cancel());
}

#[test]
fn cancel_interrupts_the_prompts_evaluation() {
    let path = match model_path() {
        Some(path) => path,
        None => return,
    };
    let model = load(&path);
    // About 7,000 tokens: fourteen prefill chunks, over a second even on a
    // fast CPU; the cancel comes 50 ms after the evaluation began.
    let prompt = "The quick brown fox jumps over the lazy dog. ".repeat(700);
    let mut inference = model.start_inference_with(&prompt, &greedy(4)).unwrap();
    let canceller = inference.canceller();
    let (entered, is_entered) = mpsc::channel();
    let consumer = thread::spawn(move || {
        entered.send(()).unwrap();
        let first = inference.next_token();
        (first, inference.info())
    });
    is_entered.recv().unwrap();
    thread::sleep(Duration::from_millis(50));
    canceller.cancel();
    let (first, info) = consumer.join().unwrap();
    assert_eq!(first, Ok(None));
    let info = info.unwrap();
    assert_eq!(info.finish_reason, Some(FinishReason::Cancelled));
    assert_eq!(info.generated_tokens, 0);
    assert!(info.prompt_tokens > 6000, "{info:?}");
}

#[test]
fn cancel_before_the_first_token() {
    let path = match model_path() {
        Some(path) => path,
        None => return,
    };
    let model = load(&path);
    let mut inference = model.start_inference_with(QUESTION_PROMPT, &greedy(8)).unwrap();
    inference.cancel();
    assert_eq!(inference.next_token(), Ok(None));
    let info = inference.info().unwrap();
    assert_eq!(info.finish_reason, Some(FinishReason::Cancelled));
    assert_eq!(info.generated_tokens, 0);
}
