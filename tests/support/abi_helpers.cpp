#include "support/abi_helpers.h"

namespace worker::test {

std::string Generation::text() const {
    std::string all;
    for (const auto& p : pieces) all += p;
    return all;
}

Generation generate(CudaModel* model, const std::string& prompt, const WorkerInferenceParams& params) {
    Generation g;
    InferencePtr inference(cuda_inference_start_ex(model, prompt.c_str(), &params, &g.error));
    if (!inference) {
        g.detail = cuda_last_error_detail();
        return g;
    }
    char piece[1024];
    int index = -1;
    while (cuda_inference_next_token(inference.get(), piece, sizeof piece, &index, &g.error)) g.pieces.emplace_back(piece);
    if (g.error != CUDA_SUCCESS) g.detail = cuda_last_error_detail();
    return g;
}

Generation generate_greedy(CudaModel* model, const std::string& prompt, int max_tokens) {
    WorkerInferenceParams params = WORKER_INFERENCE_PARAMS_INIT;
    params.max_tokens = max_tokens;
    params.temperature = 0.0f;
    return generate(model, prompt, params);
}

}  // namespace worker::test
