// worker-cli tokenize: the token ids (or pieces) of a text under a model's
// tokenizer. Reads only the metadata, so vocab-only GGUF files work too.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "command.h"
#include "gguf/gguf_file.h"
#include "options.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace worker::cli {
namespace {

constexpr const char* kHelp =
    "usage: worker-cli tokenize -m MODEL (-p TEXT | -f FILE | --stdin) [options]\n"
    "\n"
    "Prints the token ids of a text under a model's tokenizer, as generation would tokenize the prompt.\n"
    "Reads only the metadata, so vocabulary-only GGUF files work too.\n"
    "\n"
    "  -m, --model FILE     GGUF file (required)\n"
    "  -p, --prompt TEXT    the text\n"
    "  -f, --file FILE      read the text from FILE\n"
    "      --stdin          read the text from standard input\n"
    "      --no-bos         do not add the BOS/EOS tokens the metadata asks for (default: add them)\n"
    "      --no-parse-special  tokenize special-token text (<|im_start|>) as plain text (default: parse it)\n"
    "      --pieces         print each token's text, quoted, instead of its id\n"
    "  -h, --help           this help\n";

// Pieces are printed as C-style escaped strings so that whitespace, control
// bytes and partial UTF-8 characters stay visible.
std::string quoted(const std::string& bytes) {
    std::string out = "'";
    for (size_t i = 0; i < bytes.size();) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        char buf[8];
        if (c >= 0x80) {
            // Whole characters print as they are, stray bytes as \xNN.
            if (const size_t n = tokenizer::utf8_valid_length(bytes, i); n > 0) {
                out.append(bytes, i, n);
                i += n;
            } else {
                std::snprintf(buf, sizeof buf, "\\x%02X", c);
                out += buf;
                ++i;
            }
            continue;
        }
        if (c == '\\' || c == '\'') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c == 0x7F) {
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
        ++i;
    }
    return out + "'";
}

int run_tokenize(const std::vector<std::string>& args) {
    std::string model;
    std::string text;
    bool have_text = false;
    bool add_bos = true;
    bool parse_special = true;
    bool pieces = false;
    ArgReader in(args);
    while (!in.done()) {
        const std::string a = in.next();
        if (a == "-m" || a == "--model") {
            model = in.value(a);
        } else if (a == "-p" || a == "--prompt") {
            text = in.value(a);
            have_text = true;
        } else if (a == "-f" || a == "--file") {
            text = read_text_file(in.value(a), a);
            have_text = true;
        } else if (a == "--stdin") {
            text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
            have_text = true;
        } else if (a == "--no-bos") {
            add_bos = false;
        } else if (a == "--no-parse-special") {
            parse_special = false;
        } else if (a == "--pieces") {
            pieces = true;
        } else {
            throw UsageError{"unknown option '" + a + "'"};
        }
    }
    if (model.empty()) throw UsageError{"-m MODEL is required"};
    if (!have_text) throw UsageError{"a text is required: -p TEXT, -f FILE or --stdin"};

    const auto file = gguf::File::open(model);
    const auto tok = tokenizer::Tokenizer::from_gguf(*file);
    const std::vector<int32_t> ids = tok->encode(text, add_bos, parse_special);

    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i > 0) line += ' ';
        if (!pieces) {
            line += std::to_string(ids[i]);
            continue;
        }
        // Control tokens print nothing in generated text; show their name.
        const std::string& bytes = tok->token_bytes(ids[i]);
        line += quoted(bytes.empty() ? tok->token_text(ids[i]) : bytes);
    }
    std::printf("%s\n", line.c_str());
    return 0;
}

const bool registered = register_command(
    {"tokenize", "print the token ids of a text (-m MODEL -p TEXT | --stdin | -f FILE)", kHelp, &run_tokenize});

}  // namespace
}  // namespace worker::cli
