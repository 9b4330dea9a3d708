#include "core/model.h"

#include "core/error.h"
#include "core/fault.h"

namespace worker {

Model::Model(std::shared_ptr<Context> context, std::shared_ptr<const gguf::File> file)
    : context_(std::move(context)), file_(std::move(file)) {
    for (const gguf::TensorInfo& t : file_->tensors()) weight_bytes_ += t.n_bytes;
}

std::shared_ptr<Model> Model::load(std::shared_ptr<Context> context, const std::string& path) {
    fault::check(fault::Site::Boundary);
    auto file = gguf::File::open(path);
    const std::string arch = file->get_string_or("general.architecture", "");
    fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", path, "': architecture '", arch,
         "' has no forward pass in this build");
}

uint64_t Model::device_bytes() const { return weight_bytes_; }

bool Model::check_residency() const {
    fault::check(fault::Site::Boundary);
    return true;
}

}  // namespace worker
