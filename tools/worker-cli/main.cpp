// worker-cli: command-line front end of worker_cuda.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"

namespace worker::cli {

static std::vector<Command>& registry() {
    static std::vector<Command> list;
    return list;
}

bool register_command(const Command& command) {
    registry().push_back(command);
    return true;
}

const std::vector<Command>& commands() { return registry(); }

}  // namespace worker::cli

static void print_usage() {
    std::fprintf(stderr, "usage: worker-cli COMMAND [options]\n\ncommands:\n");
    for (const auto& c : worker::cli::commands()) std::fprintf(stderr, "  %-10s %s\n", c.name, c.summary);
}

int main(int argc, char** argv) {
    if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
        print_usage();
        return argc < 2 ? 2 : 0;
    }
    const std::string name = argv[1];
    for (const auto& c : worker::cli::commands()) {
        if (name != c.name) continue;
        try {
            return c.run(std::vector<std::string>(argv + 2, argv + argc));
        } catch (const worker::cli::UsageError& e) {
            std::fprintf(stderr, "worker-cli %s: %s\n", c.name, e.message.c_str());
            return 2;
        } catch (const worker::Error& e) {
            std::fprintf(stderr, "worker-cli %s: error %d (%s): %s\n", c.name, static_cast<int>(e.code()),
                         "see cuda_error_message", e.what());
            return 1;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "worker-cli %s: %s\n", c.name, e.what());
            return 1;
        }
    }
    std::fprintf(stderr, "worker-cli: unknown command '%s'\n", name.c_str());
    print_usage();
    return 2;
}
