//! Where the tests find the real model fetched by scripts/fetch-models.sh.

use std::env;
use std::path::PathBuf;

/// The SmolLM2-135M-Instruct model in the model cache (`$WORKER_MODEL_CACHE`,
/// else `~/.cache/worker_cuda/models`). `None` (the test is skipped, which
/// it says on stderr) when it is missing, unless `WORKER_TEST_REQUIRE_MODELS=1`
/// as in CI, which makes a missing model a failure.
pub fn smollm2() -> Option<PathBuf> {
    let cache = env::var_os("WORKER_MODEL_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/worker_cuda/models"))
        })
        .expect("neither WORKER_MODEL_CACHE nor HOME is set");
    let path = cache.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    if path.is_file() {
        return Some(path);
    }
    assert_ne!(
        env::var("WORKER_TEST_REQUIRE_MODELS").as_deref(),
        Ok("1"),
        "{} is missing (run scripts/fetch-models.sh)",
        path.display()
    );
    eprintln!(
        "skipped: {} not fetched (run scripts/fetch-models.sh)",
        path.display()
    );
    None
}
