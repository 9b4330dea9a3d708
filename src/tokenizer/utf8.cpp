#include "tokenizer/utf8.h"

#include "tokenizer/tokenizer.h"

namespace worker::tokenizer {
namespace {

// The byte range allowed at position `index` (1-based) after `lead`, per
// Unicode table 3-7; `length` is 0 for bytes that cannot lead a sequence.
struct LeadInfo {
    size_t length;
    uint8_t second_lo;
    uint8_t second_hi;
};

LeadInfo lead_info(uint8_t b) {
    if (b < 0x80) return {1, 0x80, 0xBF};
    if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
    if (b == 0xE0) return {3, 0xA0, 0xBF};
    if (b == 0xED) return {3, 0x80, 0x9F};
    if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
    if (b == 0xF0) return {4, 0x90, 0xBF};
    if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
    if (b == 0xF4) return {4, 0x80, 0x8F};
    return {0, 0, 0};
}

// How many bytes from pos form the longest prefix of a well-formed sequence
// (at least 1 for a valid lead byte), and whether that prefix is complete.
struct Prefix {
    size_t length;
    bool complete;
    bool truncated;  // valid so far, but the text ends before the sequence does
};

Prefix valid_prefix(std::string_view text, size_t pos) {
    const LeadInfo info = lead_info(static_cast<uint8_t>(text[pos]));
    if (info.length == 0) return {0, false, false};
    size_t k = 1;
    while (k < info.length) {
        if (pos + k >= text.size()) return {k, false, true};
        const auto c = static_cast<uint8_t>(text[pos + k]);
        const uint8_t lo = k == 1 ? info.second_lo : 0x80;
        const uint8_t hi = k == 1 ? info.second_hi : 0xBF;
        if (c < lo || c > hi) return {k, false, false};
        ++k;
    }
    return {k, true, false};
}

}  // namespace

size_t utf8_valid_length(std::string_view text, size_t pos) {
    const Prefix p = valid_prefix(text, pos);
    return p.complete ? p.length : 0;
}

bool utf8_is_valid(std::string_view text) {
    for (size_t i = 0; i < text.size();) {
        const size_t n = utf8_valid_length(text, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string utf8_repair_like_llama(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 8);
    const auto is_continuation = [&text](size_t i) {
        return i < text.size() && (static_cast<uint8_t>(text[i]) & 0xC0) == 0x80;
    };
    for (size_t i = 0; i < text.size();) {
        const auto b = static_cast<uint8_t>(text[i]);
        size_t n = 0;
        if (b < 0x80) {
            n = 1;
        } else if ((b & 0xE0) == 0xC0) {
            n = 2;
        } else if ((b & 0xF0) == 0xE0) {
            n = 3;
        } else if ((b & 0xF8) == 0xF0) {
            n = 4;
        }
        bool ok = n > 0;
        for (size_t k = 1; ok && k < n; ++k) ok = is_continuation(i + k);
        if (!ok) {
            out += kReplacementCharacter;
            ++i;
            continue;
        }
        uint32_t cp = n == 1 ? b : (b & (0x7F >> n));
        for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<uint8_t>(text[i + k]) & 0x3F);
        if (cp > 0x10FFFF) {
            out += kReplacementCharacter;
        } else {
            utf8_append(out, cp);
        }
        i += n;
    }
    return out;
}

std::string utf8_without_surrogates(std::string_view repaired) {
    std::string out(repaired);
    for (size_t i = 0; i + 2 < out.size(); ++i) {
        if (static_cast<uint8_t>(out[i]) == 0xED && static_cast<uint8_t>(out[i + 1]) >= 0xA0) {
            out[i] = static_cast<char>(0xEE);
            out[i + 1] = static_cast<char>(0x80);
            out[i + 2] = static_cast<char>(0x80);
            i += 2;
        }
    }
    return out;
}

void utf8_append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

uint32_t utf8_decode(std::string_view text, size_t pos, size_t length) {
    const auto b0 = static_cast<uint8_t>(text[pos]);
    if (length == 1) return b0;
    uint32_t cp = b0 & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) cp = (cp << 6) | (static_cast<uint8_t>(text[pos + k]) & 0x3F);
    return cp;
}

// Invalid input is replaced by "maximal subparts" (Unicode's recommended
// practice, what Python's errors="replace" does): one U+FFFD for the longest
// prefix of a well-formed sequence that is cut short, one per other bad byte.
std::string Utf8Stream::push(std::string_view bytes) {
    pending_.append(bytes);
    std::string out;
    size_t i = 0;
    while (i < pending_.size()) {
        const Prefix p = valid_prefix(pending_, i);
        if (p.complete) {
            out.append(pending_, i, p.length);
            i += p.length;
        } else if (p.truncated) {
            break;  // may still complete with the next bytes
        } else {
            out += kReplacementCharacter;
            i += p.length == 0 ? 1 : p.length;
        }
    }
    pending_.erase(0, i);
    return out;
}

std::string Utf8Stream::finish() {
    // What is held back is always one truncated prefix of a valid sequence.
    std::string out = pending_.empty() ? std::string() : std::string(kReplacementCharacter);
    pending_.clear();
    return out;
}

}  // namespace worker::tokenizer
