// Sub-commands of worker-cli register themselves from their own files.
#pragma once

#include <string>
#include <vector>

namespace worker::cli {

using CommandFn = int (*)(const std::vector<std::string>& args);

struct Command {
    const char* name;
    const char* summary;
    CommandFn run;
};

bool register_command(const Command& command);
const std::vector<Command>& commands();

// Thrown for bad command-line usage; main prints it with the usage line.
struct UsageError {
    std::string message;
};

}  // namespace worker::cli
