// worker-cli: command-line front end of worker_cuda.
//
// Every command answers --help (stdout, exit 0). Errors go to stderr in one
// format: "worker-cli COMMAND: NAME: detail", NAME the library's error code
// (CUDA_ERROR_MODEL_LOAD_FAILED, ...) or "usage" for a bad command line
// (exit 2; library errors exit 1).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "options.h"
#include "worker_ffi.h"

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

namespace {

void print_usage(std::FILE* out) {
    std::fprintf(out,
                 "usage: worker-cli COMMAND [options]\n"
                 "       worker-cli COMMAND --help    every option of COMMAND, with its default\n"
                 "       worker-cli --version\n\ncommands:\n");
    for (const auto& c : worker::cli::commands()) std::fprintf(out, "  %-15s %s\n", c.name, c.summary);
}

bool asks_for_help(const std::vector<std::string>& args) {
    for (const std::string& a : args) {
        if (a == "-h" || a == "--help") return true;
    }
    return false;
}

int run_command(const worker::cli::Command& c, const std::vector<std::string>& args) {
    if (asks_for_help(args)) {
        std::fputs(c.help, stdout);
        return 0;
    }
    try {
        return c.run(args);
    } catch (const worker::cli::UsageError& e) {
        std::fprintf(stderr, "worker-cli %s: usage: %s\nrun 'worker-cli %s --help' for the options\n", c.name,
                     e.message.c_str(), c.name);
        return 2;
    } catch (const worker::Error& e) {
        std::fprintf(stderr, "worker-cli %s: %s: %s\n", c.name, worker::cli::error_name(e.code()), e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "worker-cli %s: %s: %s\n", c.name, worker::cli::error_name(CUDA_ERROR_UNKNOWN), e.what());
        return 1;
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        print_usage(stderr);
        return 2;
    }
    const std::string& name = args[0];
    if (name == "-h" || name == "--help" || name == "help") {
        if (args.size() > 1) {
            for (const auto& c : worker::cli::commands()) {
                if (args[1] == c.name) return run_command(c, {"--help"});
            }
        }
        print_usage(stdout);
        return 0;
    }
    if (name == "-V" || name == "--version") {
        std::printf("%s\n", worker::cli::version_line().c_str());
        return 0;
    }
    for (const auto& c : worker::cli::commands()) {
        if (name == c.name) return run_command(c, std::vector<std::string>(args.begin() + 1, args.end()));
    }
    std::fprintf(stderr, "worker-cli: usage: unknown command '%s'\n", name.c_str());
    print_usage(stderr);
    return 2;
}
