#include "core/fault.h"

#include <atomic>
#include <new>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "core/error.h"

namespace worker::fault {

namespace {

struct SiteState {
    std::atomic<uint64_t> armed_at{0};  // 0: disarmed
    std::atomic<uint64_t> seen{0};
    std::atomic<int> kind{0};
};

SiteState g_sites[static_cast<int>(Site::kCount)];
std::atomic<bool> g_any_armed{false};

const char* site_name(Site site) {
    switch (site) {
        case Site::Boundary: return "boundary";
        case Site::Allocation: return "allocation";
        case Site::FileRead: return "file read";
        case Site::ThreadStart: return "thread start";
        case Site::kCount: break;
    }
    return "?";
}

}  // namespace

void arm(Site site, uint64_t nth, Kind kind) {
    SiteState& s = g_sites[static_cast<int>(site)];
    s.kind.store(static_cast<int>(kind));
    s.seen.store(0);
    s.armed_at.store(nth);
    g_any_armed.store(true);
}

void disarm_all() {
    for (SiteState& s : g_sites) {
        s.armed_at.store(0);
        s.seen.store(0);
    }
    g_any_armed.store(false);
}

uint64_t count(Site site) { return g_sites[static_cast<int>(site)].seen.load(); }

void check(Site site) {
    if (!g_any_armed.load(std::memory_order_relaxed)) return;
    SiteState& s = g_sites[static_cast<int>(site)];
    const uint64_t n = s.seen.fetch_add(1) + 1;
    const uint64_t due = s.armed_at.load();
    if (due == 0 || n != due) return;
    switch (static_cast<Kind>(s.kind.load())) {
        case Kind::WorkerError:
            if (site == Site::Allocation) fail(CUDA_ERROR_OUT_OF_MEMORY, "injected fault: ", site_name(site), " #", n);
            if (site == Site::FileRead) fail(CUDA_ERROR_MODEL_LOAD_FAILED, "injected fault: ", site_name(site), " #", n);
            fail(CUDA_ERROR_UNKNOWN, "injected fault: ", site_name(site), " #", n);
        case Kind::BadAlloc: throw std::bad_alloc();
        case Kind::StdException:
            if (site == Site::ThreadStart) throw std::system_error(EAGAIN, std::generic_category(), "injected");
            throw std::runtime_error("injected std::runtime_error");
        case Kind::NonStd: throw 42;
    }
}

}  // namespace worker::fault
