#include "core/inference.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <deque>
#include <random>

#include "core/error.h"
#include "core/fault.h"
#include "sampling/sampler.h"
#include "tokenizer/utf8.h"

namespace worker {

struct Inference::State {
    std::shared_ptr<Model> model;
    SamplingParams params;
    sampling::Settings settings;
    std::unique_ptr<model::Session> session;
    int64_t session_bytes = 0;
    model::Tensor logits;
    std::mt19937_64 rng;
    std::vector<int32_t> prompt;
    std::vector<int32_t> generated;
    std::vector<int32_t> history;  // prompt + generated: what the repetition penalty sees
    tokenizer::Utf8Stream utf8;
    std::string pending;  // decoded text not yet handed out (may be the start of a stop string)
    std::deque<Piece> ready;
    bool finished = false;
    // Set when a step failed: the KV cache may hold half a step, so the
    // inference cannot go on (the model and other inferences are unaffected).
    // Later calls report the same code (a lost GPU stays a lost GPU).
    std::string failure;
    CudaErrorCode failure_code = CUDA_ERROR_INFERENCE_FAILED;

    ~State() {
        // The backend drops what it kept for the session (a captured decode
        // step) while no other inference of the model steps; the model does
        // that without making this thread wait for someone else's step.
        if (model && session) model->retire_session(std::move(session), session_bytes);
    }

    // The session's KV cache grows as it fills: the model's figure follows.
    void account_session_bytes() {
        const auto now = static_cast<int64_t>(session->bytes());
        model->add_session_bytes(now - session_bytes);
        session_bytes = now;
    }

    void emit(std::string text) {
        if (!text.empty()) ready.push_back({std::move(text), static_cast<int>(generated.size()) - 1});
    }

    // Hands out all pending text except a tail that could still grow into a
    // stop string; ends generation at a complete stop string, dropping it.
    void release_pending() {
        size_t cut = std::string::npos;
        for (const std::string& stop : params.stop) {
            const size_t at = pending.find(stop);
            if (at != std::string::npos && at < cut) cut = at;
        }
        if (cut != std::string::npos) {
            emit(pending.substr(0, cut));
            pending.clear();
            finished = true;
            return;
        }
        size_t keep_from = pending.size();
        for (const std::string& stop : params.stop) {
            for (size_t len = std::min(stop.size() - 1, pending.size()); len > 0; --len) {
                if (pending.compare(pending.size() - len, len, stop, 0, len) == 0) {
                    keep_from = std::min(keep_from, pending.size() - len);
                    break;
                }
            }
        }
        emit(pending.substr(0, keep_from));
        pending.erase(0, keep_from);
    }

    void finish() {
        pending += utf8.finish();
        release_pending();
        emit(std::move(pending));
        pending.clear();
        finished = true;
    }

    void step() {
        if (static_cast<int32_t>(generated.size()) >= params.max_tokens) {
            finish();
            return;
        }
        const tokenizer::Tokenizer& tok = model->tokenizer();
        int32_t id;
        {
            auto lock = model->lock_step();
            id = model->transformer().backend().sample(logits, settings, history, sampling::uniform01(rng));
        }
        generated.push_back(id);
        history.push_back(id);
        // Output layers may be padded past the vocabulary; such ids have no text.
        const bool in_vocab = id < tok.n_vocab();
        if (in_vocab && tok.is_eog(id)) {
            finish();
            return;
        }
        if (in_vocab) pending += utf8.push(tok.token_bytes(id));
        release_pending();
        if (finished) return;
        if (static_cast<int32_t>(generated.size()) >= params.max_tokens) {
            finish();
            return;
        }
        auto lock = model->lock_step();
        model->check_weights_unchanged();
        logits = model->transformer().forward(*session, std::span<const int32_t>(&id, 1));
        account_session_bytes();
    }
};

void validate(const SamplingParams& p) {
    auto bad = [](const auto&... parts) { fail(CUDA_ERROR_INVALID_PARAMETER, parts...); };
    if (p.max_tokens < 1) bad("max_tokens must be >= 1, got ", p.max_tokens);
    if (!(p.temperature >= 0.0f && p.temperature <= 2.0f)) bad("temperature must be in [0, 2], got ", p.temperature);
    if (p.top_k < 0) bad("top_k must be >= 0 (0 = off), got ", p.top_k);
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) bad("top_p must be in (0, 1], got ", p.top_p);
    if (!(p.min_p >= 0.0f && p.min_p < 1.0f)) bad("min_p must be in [0, 1), got ", p.min_p);
    if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty)) {
        bad("repetition_penalty must be a finite value > 0, got ", p.repetition_penalty);
    }
    for (size_t i = 0; i < p.stop.size(); ++i) {
        if (p.stop[i].empty()) bad("stop string ", i, " is empty");
    }
}

namespace {

// Prompts and stop strings must be well-formed UTF-8: the caller's text is
// refused rather than silently repaired, so what is generated always follows
// from what was meant. The detail gives the byte offset of the first bad byte.
void require_utf8(std::string_view text, const std::string& what) {
    for (size_t pos = 0; pos < text.size();) {
        const size_t length = tokenizer::utf8_valid_length(text, pos);
        if (length == 0) {
            fail(CUDA_ERROR_INVALID_PARAMETER, what, " is not valid UTF-8 (bad byte 0x", std::hex,
                 static_cast<unsigned>(static_cast<uint8_t>(text[pos])), std::dec, " at offset ", pos, ")");
        }
        pos += length;
    }
}

}  // namespace

std::shared_ptr<Inference> Inference::start(std::shared_ptr<Model> model, std::string_view prompt,
                                            const SamplingParams& params) {
    fault::check(fault::Site::Boundary);
    validate(params);
    require_utf8(prompt, "the prompt");
    for (size_t i = 0; i < params.stop.size(); ++i) require_utf8(params.stop[i], str_cat("stop string ", i));
    auto state = std::make_unique<State>();
    state->params = params;
    state->settings = {params.temperature, params.top_k, params.top_p, params.min_p, params.repetition_penalty};
    state->rng.seed(params.seed);
    state->prompt = model->tokenizer().encode(prompt, true, params.parse_special);
    const auto n_prompt = static_cast<int64_t>(state->prompt.size());
    if (n_prompt == 0) fail(CUDA_ERROR_INVALID_PARAMETER, "the prompt is empty and the model adds no BOS token");
    const uint32_t context_length = model->config().context_length;
    if (n_prompt + params.max_tokens > context_length) {
        fail(CUDA_ERROR_INVALID_PARAMETER, "prompt of ", n_prompt, " tokens + max_tokens ", params.max_tokens,
             " exceeds the model's context length of ", context_length);
    }
    state->history = state->prompt;

    fault::check(fault::Site::Allocation);
    // The last generated token is never evaluated, so prompt + max_tokens - 1
    // positions suffice; the context length (a uint32) bounds it below 2^32.
    const int64_t capacity = n_prompt + params.max_tokens - 1;
    if (capacity > INT32_MAX) {
        fail(CUDA_ERROR_INVALID_PARAMETER, "prompt of ", n_prompt, " tokens + max_tokens ", params.max_tokens,
             " exceeds the largest session of ", INT32_MAX, " positions");
    }
    const auto chunk = static_cast<int32_t>(std::min<int64_t>(n_prompt, kPrefillChunk));
    {
        auto lock = model->lock_step();
        state->session = model->transformer().create_session(static_cast<int32_t>(capacity), chunk);
        state->session_bytes = static_cast<int64_t>(state->session->bytes());
        model->add_session_bytes(state->session_bytes);
        state->model = model;
    }
    // One chunk per hold of the step lock, so that other inferences of the
    // model step (and frees proceed) between the chunks of a long prompt.
    const std::span<const int32_t> all(state->prompt);
    for (int64_t at = 0; at < n_prompt; at += chunk) {
        const auto n = static_cast<size_t>(std::min<int64_t>(chunk, n_prompt - at));
        auto lock = model->lock_step();
        model->check_weights_unchanged();
        state->logits = model->transformer().forward(*state->session, all.subspan(static_cast<size_t>(at), n));
        state->account_session_bytes();
    }

    std::shared_ptr<Inference> inference(new Inference());
    inference->state_ = std::move(state);
    return inference;
}

Inference::~Inference() = default;

const Inference::Piece* Inference::peek() {
    fault::check(fault::Site::Boundary);
    State& s = *state_;
    if (!s.failure.empty()) {
        fail(s.failure_code, "this inference cannot continue after an earlier failure: ", s.failure);
    }
    try {
        while (s.ready.empty() && !s.finished) {
            if (cancelled_.load(std::memory_order_relaxed)) {
                s.finished = true;
                break;
            }
            s.step();
        }
    } catch (const Error& e) {
        s.failure = e.message();
        s.failure_code = e.code();
        throw;
    } catch (const std::exception& e) {
        s.failure = e.what();
        throw;
    }
    return s.ready.empty() ? nullptr : &s.ready.front();
}

void Inference::pop() {
    if (!state_->ready.empty()) state_->ready.pop_front();
}

const std::vector<int32_t>& Inference::prompt_tokens() const { return state_->prompt; }
const std::vector<int32_t>& Inference::generated_tokens() const { return state_->generated; }

}  // namespace worker
