#include "core/inference.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <deque>
#include <random>

#include "core/error.h"
#include "core/versioned.h"
#include "core/fault.h"
#include "sampling/sampler.h"
#include "tokenizer/utf8.h"

namespace worker {

struct Inference::State {
    std::shared_ptr<Model> model;
    InferenceParams params;
    std::unique_ptr<model::Session> session;
    int64_t session_bytes = 0;
    model::Tensor logits;
    std::mt19937_64 rng;
    std::vector<int32_t> prompt;
    int64_t prefilled = 0;  // prompt tokens evaluated so far
    int32_t chunk = 0;      // prompt tokens per forward pass
    std::vector<int32_t> generated;
    std::vector<StepLogprobs> logprobs;  // one per generated token, when requested
    FinishReason reason = FinishReason::None;
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
            reason = FinishReason::Stop;
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

    // Ends generation for `why`, unless the last text completes a stop string.
    void finish(FinishReason why) {
        pending += utf8.finish();
        release_pending();
        emit(std::move(pending));
        pending.clear();
        finished = true;
        if (reason == FinishReason::None) reason = why;
    }

    // Evaluates the next chunk of the prompt, one hold of the step lock, so
    // that other inferences of the model step (and frees proceed) between
    // the chunks of a long prompt.
    void prefill_chunk() {
        const auto n = static_cast<size_t>(std::min<int64_t>(chunk, static_cast<int64_t>(prompt.size()) - prefilled));
        auto lock = model->lock_step();
        model->check_weights_unchanged();
        logits = model->transformer().forward(*session, std::span<const int32_t>(prompt).subspan(prefilled, n));
        account_session_bytes();
        prefilled += static_cast<int64_t>(n);
    }

    // The raw distribution's log-probabilities at this step (before sampling
    // changes anything): the chosen id's is filled in once it is drawn.
    StepLogprobs distribution() {
        std::vector<float> row(static_cast<size_t>(logits.ne0));
        model->transformer().backend().read(logits, row.data(), row.size() * sizeof(float));
        const auto n_vocab = std::min<size_t>(row.size(), static_cast<size_t>(model->tokenizer().n_vocab()));
        row.resize(n_vocab);
        double max = -INFINITY;
        for (float v : row) max = std::max(max, static_cast<double>(v));
        double sum = 0;
        for (float v : row) sum += std::exp(static_cast<double>(v) - max);
        const double log_z = max + std::log(sum);
        last_row_log_z = log_z;
        last_row = std::move(row);
        StepLogprobs out;
        const auto k = std::min<size_t>(static_cast<size_t>(params.top_logprobs), last_row.size());
        std::vector<int32_t> ids(last_row.size());
        for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
        // Most likely first; equal logits by the lower id.
        std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(), [&](int32_t a, int32_t b) {
            return last_row[a] > last_row[b] || (last_row[a] == last_row[b] && a < b);
        });
        for (size_t i = 0; i < k; ++i) out.top.push_back({ids[i], logprob_of(ids[i])});
        return out;
    }
    float logprob_of(int32_t id) const {
        if (id < 0 || static_cast<size_t>(id) >= last_row.size()) return -INFINITY;  // a padded output row
        return static_cast<float>(static_cast<double>(last_row[static_cast<size_t>(id)]) - last_row_log_z);
    }
    std::vector<float> last_row;
    double last_row_log_z = 0;

    void step() {
        if (static_cast<int32_t>(generated.size()) >= params.max_tokens) {
            finish(FinishReason::MaxTokens);
            return;
        }
        const tokenizer::Tokenizer& tok = model->tokenizer();
        int32_t id;
        {
            auto lock = model->lock_step();
            if (params.logprobs) logprobs.push_back(distribution());
            id = model->transformer().backend().sample(logits, params.sampling, history, sampling::uniform01(rng));
        }
        if (params.logprobs) logprobs.back().chosen = {id, logprob_of(id)};
        generated.push_back(id);
        history.push_back(id);
        // Output layers may be padded past the vocabulary; such ids have no text.
        const bool in_vocab = id < tok.n_vocab();
        if (in_vocab && tok.is_eog(id)) {
            finish(FinishReason::Eos);
            return;
        }
        if (in_vocab) pending += utf8.push(tok.token_bytes(id));
        release_pending();
        if (finished) return;
        if (static_cast<int32_t>(generated.size()) >= params.max_tokens) {
            finish(FinishReason::MaxTokens);
            return;
        }
        auto lock = model->lock_step();
        model->check_weights_unchanged();
        logits = model->transformer().forward(*session, std::span<const int32_t>(&id, 1));
        account_session_bytes();
    }
};

InferenceParams InferenceParams::from_abi(const WorkerInferenceParams* given) {
    if (given == nullptr) fail(CUDA_ERROR_INVALID_PARAMETER, "params is NULL");
    // The first three fields are required.
    const WorkerInferenceParams p = read_versioned(*given, sampling::kDefaults,
                                                   offsetof(WorkerInferenceParams, seed) + sizeof(uint64_t));
    if (p.parse_special != 0 && p.parse_special != 1) {
        fail(CUDA_ERROR_INVALID_PARAMETER, "params->parse_special must be 0 or 1, got ", p.parse_special);
    }
    if (p.logprobs != 0 && p.logprobs != 1) {
        fail(CUDA_ERROR_INVALID_PARAMETER, "params->logprobs must be 0 or 1, got ", p.logprobs);
    }
    if (p.n_stop < 0) fail(CUDA_ERROR_INVALID_PARAMETER, "params->n_stop must be >= 0, got ", p.n_stop);
    if (p.n_stop > 0 && p.stop == nullptr) {
        fail(CUDA_ERROR_INVALID_PARAMETER, "params->stop is NULL while params->n_stop > 0");
    }
    InferenceParams out;
    out.max_tokens = p.max_tokens;
    out.seed = p.seed;
    out.sampling = {p.temperature, p.top_k, p.top_p, p.min_p, p.repetition_penalty};
    for (int32_t i = 0; i < p.n_stop; ++i) {
        if (p.stop[i] == nullptr) fail(CUDA_ERROR_INVALID_PARAMETER, "params->stop[", i, "] is NULL");
        out.stop.emplace_back(p.stop[i]);
    }
    out.parse_special = p.parse_special == 1;
    out.logprobs = p.logprobs == 1;
    out.top_logprobs = p.top_logprobs;
    return out;
}

void validate(const InferenceParams& params) {
    auto bad = [](const auto&... parts) { fail(CUDA_ERROR_INVALID_PARAMETER, parts...); };
    const sampling::Settings& p = params.sampling;
    if (params.max_tokens < 1) bad("max_tokens must be >= 1, got ", params.max_tokens);
    if (!(p.temperature >= 0.0f && p.temperature <= 2.0f)) bad("temperature must be in [0, 2], got ", p.temperature);
    if (p.top_k < 0) bad("top_k must be >= 0 (0 = off), got ", p.top_k);
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) bad("top_p must be in (0, 1], got ", p.top_p);
    if (!(p.min_p >= 0.0f && p.min_p < 1.0f)) bad("min_p must be in [0, 1), got ", p.min_p);
    if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty)) {
        bad("repetition_penalty must be a finite value > 0, got ", p.repetition_penalty);
    }
    for (size_t i = 0; i < params.stop.size(); ++i) {
        if (params.stop[i].empty()) bad("stop string ", i, " is empty");
    }
    if (params.top_logprobs < 0 || params.top_logprobs > kMaxTopLogprobs) {
        bad("top_logprobs must be in [0, ", kMaxTopLogprobs, "], got ", params.top_logprobs);
    }
    if (params.top_logprobs > 0 && !params.logprobs) {
        bad("top_logprobs is ", params.top_logprobs, " but logprobs is off");
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
                                            const InferenceParams& params) {
    fault::check(fault::Site::Boundary);
    validate(params);
    model->check_weights_unchanged();
    require_utf8(prompt, "the prompt");
    for (size_t i = 0; i < params.stop.size(); ++i) require_utf8(params.stop[i], str_cat("stop string ", i));
    auto state = std::make_unique<State>();
    state->params = params;
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
    state->chunk = static_cast<int32_t>(std::min<int64_t>(n_prompt, kPrefillChunk));
    {
        auto lock = model->lock_step();
        state->session = model->transformer().create_session(static_cast<int32_t>(capacity), state->chunk);
        state->session_bytes = static_cast<int64_t>(state->session->bytes());
        model->add_session_bytes(state->session_bytes);
        state->model = model;
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
                s.reason = FinishReason::Cancelled;
                break;
            }
            if (s.prefilled < static_cast<int64_t>(s.prompt.size())) {
                s.prefill_chunk();
            } else {
                s.step();
            }
        }
    } catch (const Error& e) {
        s.failure = e.message();
        s.failure_code = e.code();
        s.reason = FinishReason::Error;
        throw;
    } catch (const std::exception& e) {
        s.failure = e.what();
        s.reason = FinishReason::Error;
        throw;
    }
    return s.ready.empty() ? nullptr : &s.ready.front();
}

void Inference::pop() {
    if (!state_->ready.empty()) state_->ready.pop_front();
}

Inference::Info Inference::info() const {
    const State& s = *state_;
    Info info;
    info.prompt_tokens = static_cast<int32_t>(s.prompt.size());
    info.generated_tokens = static_cast<int32_t>(s.generated.size());
    // Text may still wait to be handed out after generation ended.
    info.finish_reason = s.ready.empty() ? s.reason : FinishReason::None;
    info.last_token = s.generated.empty() ? -1 : s.generated.back();
    if (!s.failure.empty()) {
        info.finish_reason = FinishReason::Error;
        info.error = s.failure_code;
    }
    return info;
}

const StepLogprobs& Inference::logprobs(int32_t index) const {
    const State& s = *state_;
    if (!s.params.logprobs) fail(CUDA_ERROR_INVALID_PARAMETER, "log-probabilities were not requested for this inference");
    if (index < 0 || static_cast<size_t>(index) >= s.logprobs.size()) {
        fail(CUDA_ERROR_INVALID_PARAMETER, "token index ", index, " is out of range: ", s.logprobs.size(),
             " token(s) generated so far");
    }
    return s.logprobs[static_cast<size_t>(index)];
}

const std::vector<int32_t>& Inference::prompt_tokens() const { return state_->prompt; }
const std::vector<int32_t>& Inference::generated_tokens() const { return state_->generated; }

}  // namespace worker
