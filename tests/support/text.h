// How tokenizer tests print what they compare: text with control bytes made
// visible, and token ids as one line.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace worker::test {

// `s` with every control byte (and DEL) written as \xNN.
inline std::string escaped(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

// "1 2 3".
inline std::string ids_text(const std::vector<int32_t>& ids) {
    std::string out;
    for (int32_t id : ids) {
        if (!out.empty()) out += ' ';
        out += std::to_string(id);
    }
    return out;
}

}  // namespace worker::test
