#include "core/error.h"
#include "cuda_backend_impl.h"

namespace worker::cuda {

namespace {

// Failed captures of one session's decode step after which that session
// stops trying and runs every step eagerly.
constexpr int kMaxCaptureFailures = 3;

}  // namespace

// The first decode step of a session runs eagerly (it sizes the scratch
// buffers a step uses); the second is captured into a graph, which is
// instantiated once and launched; every later step only writes the new
// position to device memory and replays that graph — the forward pass is
// not even recorded. The kernels of a captured step read the position
// from `position_` (rope, copy_to_cache, attention; the attention's key
// count and splits follow from it on the device), and everything else a
// step touches sits at fixed addresses for the life of the session.
//
// A capture that fails (an op that cannot be captured, a driver that
// refuses the graph) costs nothing but time: the step is recorded again
// and run eagerly, and after kMaxCaptureFailures failures the session
// stops trying. A failure of the step itself is reported by that eager
// run, and a lost device is reported at once.
void CudaBackend::decode_step(uint64_t session, int32_t pos, const std::function<void()>& record) {
    {
        const OpScope scope(*this);
        refuse_in_capture("decode_step");
    }
    if (!graphs_enabled_) {
        record();
        return;
    }
    StepGraph& graph = graphs_[session];
    if (graph.exec != nullptr) {
        const OpScope scope(*this);
        launch_set_position(static_cast<int32_t*>(position_.get()), pos, stream_);
        check_cuda(cudaGraphLaunch(graph.exec, stream_), "cudaGraphLaunch (decode step)");
        ++graph_stats_.launches;
        ++graph_stats_.replays;
        return;
    }
    if (!graph.warm || graph.failed_captures >= kMaxCaptureFailures) {
        record();
        graph.warm = true;
        return;
    }
    if (capture_step(graph, pos, record)) return;
    if (++graph.failed_captures == kMaxCaptureFailures) ++graph_stats_.sessions_without_graph;
    ++graph_stats_.eager_after_failed_capture;
    record();
}

void CudaBackend::forget_session(uint64_t session) noexcept {
    const auto it = graphs_.find(session);
    if (it == graphs_.end()) return;
    if (it->second.exec != nullptr) {
        cudaSetDevice(device_);
        // The session's memory is freed next: let a replay still running finish.
        if (cudaStreamSynchronize(stream_) != cudaSuccess) cudaGetLastError();
        cudaGraphExecDestroy(it->second.exec);
    }
    graphs_.erase(it);
}

// Captures the step and launches the graph: true. False when the capture
// failed (nothing of the step ran, the stream is out of capture mode and
// clean); a lost device throws.
bool CudaBackend::capture_step(StepGraph& graph, int32_t pos, const std::function<void()>& record) {
    activate();
    // The position the replays overwrite, in stream order before the step.
    launch_set_position(static_cast<int32_t*>(position_.get()), pos, stream_);
    check_cuda(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
    capturing_ = true;
    capture_failed_ = false;
    capture_pos_ = pos;
    cudaGraph_t captured = nullptr;
    try {
        record();
        if (injected_capture_failures_ > 0) {
            --injected_capture_failures_;
            // Querying a stream that is being captured is not allowed: the
            // driver invalidates the capture, as it does for any op that
            // cannot be captured.
            if (cudaStreamQuery(stream_) != cudaSuccess) cudaGetLastError();
            capture_failed_ = true;
        }
    } catch (...) {
        capture_failed_ = true;
    }
    capturing_ = false;
    const cudaError_t status = cudaStreamEndCapture(stream_, &captured);
    struct GraphOwner {
        cudaGraph_t g;
        ~GraphOwner() {
            if (g != nullptr) cudaGraphDestroy(g);
        }
    } owner{captured};
    if (is_sticky_error(status)) fail_device_lost(device_, status, "cudaStreamEndCapture (decode step)");
    check_device_not_lost(device_);
    if (status != cudaSuccess || captured == nullptr || capture_failed_) {
        cudaGetLastError();  // the capture's own (non-sticky) error
        ++graph_stats_.abandoned;
        return false;
    }
    const cudaError_t instantiated = cudaGraphInstantiate(&graph.exec, captured, 0);
    if (instantiated != cudaSuccess) {
        if (is_sticky_error(instantiated)) fail_device_lost(device_, instantiated, "cudaGraphInstantiate");
        cudaGetLastError();
        graph.exec = nullptr;
        ++graph_stats_.abandoned;
        return false;
    }
    ++graph_stats_.instantiations;
    check_cuda(cudaGraphLaunch(graph.exec, stream_), "cudaGraphLaunch (decode step)");
    ++graph_stats_.launches;
    return true;
}

// Inside a capture, where the position a kernel must read from device
// memory (so that replays can change it); null outside one.
const int32_t* CudaBackend::step_position(const char* op, int64_t host_pos) const {
    if (!capturing_) return nullptr;
    if (host_pos != capture_pos_) {
        fail(CUDA_ERROR_INFERENCE_FAILED, op, ": position ", host_pos, " inside a decode step at position ",
             capture_pos_, " cannot be captured in a graph");
    }
    return static_cast<const int32_t*>(position_.get());
}

// Operations that synchronise, copy from the host or allocate end a step:
// inside a captured step they are an error of the forward pass.
void CudaBackend::refuse_in_capture(const char* what) const {
    if (capturing_) {
        fail(CUDA_ERROR_INFERENCE_FAILED, "GPU ", device_, ": ", what,
             " inside a decode step that is being captured in a CUDA graph");
    }
}

// Executable graphs point at the scratch buffers a decode step uses: when
// one of those is replaced, every graph is dropped and re-captured on its
// session's next step.
void CudaBackend::drop_graphs() noexcept {
    for (auto& [session, graph] : graphs_) {
        if (graph.exec != nullptr) {
            cudaGraphExecDestroy(graph.exec);
            graph.exec = nullptr;
            ++graph_stats_.dropped;
        }
    }
}

}  // namespace worker::cuda
