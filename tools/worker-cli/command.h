// Sub-commands of worker-cli register themselves from their own files.
#pragma once

#include <string>
#include <vector>

namespace worker::cli {

using CommandFn = int (*)(const std::vector<std::string>& args);

struct Command {
    const char* name;
    const char* summary;  // one line for the command list
    const char* help;     // the full usage: every option with its default (printed by --help)
    CommandFn run;
};

bool register_command(const Command& command);
const std::vector<Command>& commands();

// Thrown for bad command-line usage; main prints it and points at --help (exit 2).
struct UsageError {
    std::string message;
};

}  // namespace worker::cli
