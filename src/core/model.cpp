#include "core/model.h"

#include <chrono>
#include <optional>

#include "core/error.h"
#include "core/fault.h"
#include "core/log.h"
#include "model/config.h"

namespace worker {

Model::Model(std::shared_ptr<Context> context, std::shared_ptr<const gguf::File> file)
    : context_(std::move(context)), file_(std::move(file)) {}

std::shared_ptr<Model> Model::load(std::shared_ptr<Context> context, const std::string& path,
                                   const model::LoadProgress& progress) {
    fault::check(fault::Site::Boundary);
    const auto started = std::chrono::steady_clock::now();
    auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    const Settings& settings = context->settings();
    log_info(settings, "load '", path, "': opening on ", context->is_cpu() ? "the CPU device" : str_cat("GPU ", context->device()));
    const bool private_weights = context->is_cpu() && settings.cpu_private_weights;
    auto file = gguf::File::open(path, private_weights ? gguf::Residency::Private : gguf::Residency::Mapped);
    log_info(settings, "load '", path, "': GGUF v", file->version(), ", ", file->tensors().size(), " tensors, ",
             file->metadata().size(), " metadata keys parsed in ", seconds(), " s");
    try {
        return load_parsed(std::move(context), file, seconds, progress);
    } catch (const Error& e) {
        // Whatever a vocabulary-only file lacks first, say what it is.
        if (!file->tensors().empty()) throw;
        fail(e.code(), "model file '", path,
             "' holds no tensors (a vocabulary-only GGUF file?): there are no weights to run; ", e.message());
    }
}

std::shared_ptr<Model> Model::load_parsed(std::shared_ptr<Context> context, std::shared_ptr<const gguf::File> file,
                                          const std::function<double()>& seconds,
                                          const model::LoadProgress& progress) {
    const std::string& path = file->path();
    // Architecture first: an unsupported model is reported as such rather
    // than as whatever key or tensor it happens to lack.
    model::Config config = model::read_config(*file);
    // The tensor table next, before the tokenizer (which may be large) is
    // built and before any weight is uploaded.
    model::Transformer::check_weights(*file, config);
    if (file->has("tokenizer.ggml.tokens") && file->get_array_size("tokenizer.ggml.tokens") > config.vocab_size) {
        fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", path, "': 'tokenizer.ggml.tokens' has ",
             file->get_array_size("tokenizer.ggml.tokens"), " tokens but the output layer only ", config.vocab_size);
    }
    std::shared_ptr<Model> m(new Model(std::move(context), file));
    m->tokenizer_ = tokenizer::Tokenizer::from_gguf(*file);
    fault::check(fault::Site::Allocation);
    m->transformer_ =
        std::make_unique<model::Transformer>(*file, std::move(config), model::create_backend(*m->context_),
                                             progress);
    if (progress) progress(1.0);  // loaded: told, whatever it answers
    m->facts_ = describe_model(*file, m->transformer_->config(), *m->tokenizer_);
    m->weight_bytes_ = m->transformer_->backend().weight_bytes();
    if (m->weight_bytes_ == 0) {
        // The CPU device uses the weights where the file is mapped: count them.
        for (const gguf::TensorInfo& t : file->tensors()) m->weight_bytes_ += t.n_bytes;
    }
    log_info(m->context_->settings(), "load '", path, "': ", m->transformer_->config().arch_key, ", ", m->weight_bytes_,
             " bytes of weights on ", m->transformer_->backend().name(), ", ready in ", seconds(), " s");
    return m;
}

uint64_t Model::device_bytes() const {
    if (const std::optional<uint64_t> held = transformer_->backend().device_memory_bytes()) return *held;
    return weight_bytes_ + session_bytes_.load();
}

bool Model::check_residency() const {
    fault::check(fault::Site::Boundary);
    if (context_->is_cpu()) file_->check_readable();
    transformer_->backend().check_residency();
    return true;
}

void Model::check_weights_unchanged() const {
    // A GPU holds its own copy of the weights: the file is not read after load.
    if (context_->is_cpu()) file_->check_unchanged();
}

}  // namespace worker

namespace worker {

Model::StepLock::StepLock(Model& model) : model_(model) {
    model_.step_mutex_.lock();
    model_.destroy_retired();
}

Model::StepLock::~StepLock() {
    model_.destroy_retired();
    model_.step_mutex_.unlock();
    // A session retired between the drain above and the unlock found the
    // mutex held: its retirer left it to us.
    model_.reap_retired();
}

void Model::destroy_retired() noexcept {
    std::vector<Retired> retired;
    {
        std::lock_guard<std::mutex> lock(retired_mutex_);
        retired.swap(retired_);
    }
    for (Retired& r : retired) {
        r.session.reset();
        add_session_bytes(-r.bytes);
    }
}

void Model::reap_retired() noexcept {
    {
        std::lock_guard<std::mutex> lock(retired_mutex_);
        if (retired_.empty()) return;
    }
    std::unique_lock<std::mutex> step(step_mutex_, std::try_to_lock);
    if (step.owns_lock()) destroy_retired();
}

void Model::retire_session(std::unique_ptr<model::Session> session, int64_t bytes) noexcept {
    try {
        std::lock_guard<std::mutex> lock(retired_mutex_);
        retired_.reserve(retired_.size() + 1);  // may throw; the push below cannot
        retired_.push_back({std::move(session), bytes});
    } catch (...) {
        // No memory to queue it: wait for the running step instead.
        std::lock_guard<std::mutex> step(step_mutex_);
        session.reset();
        add_session_bytes(-bytes);
        return;
    }
    reap_retired();
}

}  // namespace worker
