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

std::shared_ptr<Model> Model::load(std::shared_ptr<Context> context, const std::string& path) {
    fault::check(fault::Site::Boundary);
    const auto started = std::chrono::steady_clock::now();
    auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    log_info("load '", path, "': opening on ", context->is_cpu() ? "the CPU device" : str_cat("GPU ", context->device()));
    auto file = gguf::File::open(path);
    log_info("load '", path, "': GGUF v", file->version(), ", ", file->tensors().size(), " tensors, ",
             file->metadata().size(), " metadata keys parsed in ", seconds(), " s");
    try {
        return load_parsed(std::move(context), file, seconds);
    } catch (const Error& e) {
        // Whatever a vocabulary-only file lacks first, say what it is.
        if (!file->tensors().empty()) throw;
        fail(e.code(), "model file '", path,
             "' holds no tensors (a vocabulary-only GGUF file?): there are no weights to run; ", e.message());
    }
}

std::shared_ptr<Model> Model::load_parsed(std::shared_ptr<Context> context, std::shared_ptr<const gguf::File> file,
                                          const std::function<double()>& seconds) {
    const std::string& path = file->path();
    // Architecture first: an unsupported model is reported as such rather
    // than as whatever key or tensor it happens to lack.
    model::Config config = model::read_config(*file);
    std::shared_ptr<Model> m(new Model(std::move(context), file));
    m->tokenizer_ = tokenizer::Tokenizer::from_gguf(*file);
    if (static_cast<uint32_t>(m->tokenizer_->n_vocab()) > config.vocab_size) {
        fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", path, "': tokenizer has ", m->tokenizer_->n_vocab(),
             " tokens but the output layer only ", config.vocab_size);
    }
    fault::check(fault::Site::Allocation);
    m->transformer_ =
        std::make_unique<model::Transformer>(*file, std::move(config), model::create_backend(*m->context_));
    m->weight_bytes_ = m->transformer_->backend().weight_bytes();
    if (m->weight_bytes_ == 0) {
        // The CPU device uses the weights where the file is mapped: count them.
        for (const gguf::TensorInfo& t : file->tensors()) m->weight_bytes_ += t.n_bytes;
    }
    log_info("load '", path, "': ", m->transformer_->config().arch_key, ", ", m->weight_bytes_,
             " bytes of weights on ", m->transformer_->backend().name(), ", ready in ", seconds(), " s");
    return m;
}

uint64_t Model::device_bytes() const {
    if (const std::optional<uint64_t> held = transformer_->backend().device_memory_bytes()) return *held;
    return weight_bytes_ + session_bytes_.load();
}

bool Model::check_residency() const {
    fault::check(fault::Site::Boundary);
    transformer_->backend().check_residency();
    return true;
}

}  // namespace worker
