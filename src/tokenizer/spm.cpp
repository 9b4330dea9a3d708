// SentencePiece BPE ("llama"): merges chosen by token score, spaces written
// as U+2581, bytes without a token of their own as <0xNN> tokens.
#include <array>
#include <cstdio>
#include <queue>

#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace worker::tokenizer {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

class SpmTokenizer final : public VocabTokenizer {
public:
    explicit SpmTokenizer(Vocab vocab) : VocabTokenizer(std::move(vocab)) {
        for (int b = 0; b < 256; ++b) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            int32_t id = vocab_.find(name);
            // Vocabularies without byte tokens may still hold the byte as text.
            if (id < 0) id = vocab_.find(std::string(1, static_cast<char>(b)));
            byte_token_[b] = id >= 0 ? id : vocab_.unk;
        }
        // An ASCII byte that no longer token contains can never merge.
        barrier_.fill(true);
        for (const std::string& text : vocab_.text) {
            if (text.size() < 2) continue;
            for (char c : text) {
                if (static_cast<uint8_t>(c) < 0x80) barrier_[static_cast<uint8_t>(c)] = false;
            }
        }
        finish_setup();
    }

private:
    struct Symbol {
        int32_t prev;
        int32_t next;
        uint32_t offset;
        uint32_t length;  // 0 once merged into the symbol on its left
    };
    struct Bigram {
        float score;
        int32_t left;
        int32_t right;
        uint32_t length;  // combined length when queued, to spot stale entries
    };
    // Highest score first; on a tie the leftmost pair, as SentencePiece does.
    struct Lower {
        bool operator()(const Bigram& a, const Bigram& b) const {
            return a.score < b.score || (a.score == b.score && a.left > b.left);
        }
    };

    void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const override {
        std::string s;
        s.reserve(text.size() + text.size() / 2 + 3);
        if (vocab_.add_space_prefix && after_special) s += kSpaceMark;
        for (char c : text) {
            if (c == ' ') {
                s += kSpaceMark;
            } else {
                s += c;
            }
        }

        std::vector<Symbol> symbols;
        symbols.reserve(s.size());
        for (size_t offset = 0; offset < s.size();) {
            const size_t n = std::min(utf8_sequence_length(static_cast<uint8_t>(s[offset])), s.size() - offset);
            symbols.push_back({-1, -1, static_cast<uint32_t>(offset), static_cast<uint32_t>(n)});
            offset += n;
        }

        // No merge can cross a barrier symbol, so the text splits there into
        // runs that merge independently to the same result, with small heaps.
        std::priority_queue<Bigram, std::vector<Bigram>, Lower> queue;
        const auto n_symbols = static_cast<int32_t>(symbols.size());
        int32_t run_start = 0;
        for (int32_t i = 0; i < n_symbols; ++i) {
            const Symbol& sym = symbols[i];
            const auto byte = static_cast<uint8_t>(s[sym.offset]);
            if (sym.length == 1 && byte < 0x80 && barrier_[byte]) {
                merge_run(s, symbols, run_start, i, queue, out);
                merge_run(s, symbols, i, i + 1, queue, out);
                run_start = i + 1;
            }
        }
        merge_run(s, symbols, run_start, n_symbols, queue, out);
    }

    // Merges symbols [begin, end) and appends their tokens.
    void merge_run(std::string_view s, std::vector<Symbol>& symbols, int32_t begin, int32_t end,
                   std::priority_queue<Bigram, std::vector<Bigram>, Lower>& queue, std::vector<int32_t>& out) const {
        if (begin >= end) return;
        for (int32_t i = begin; i < end; ++i) {
            symbols[i].prev = i == begin ? -1 : i - 1;
            symbols[i].next = i + 1 == end ? -1 : i + 1;
        }
        // A heap of candidate pairs; a merge only queues the two new pairs
        // around it, so the whole run is O(n log n) even on one repeated
        // character.
        const auto try_pair = [&](int32_t left, int32_t right) {
            if (left < 0 || right < 0) return;
            const uint32_t length = symbols[left].length + symbols[right].length;
            if (length > vocab_.max_token_bytes) return;
            const int32_t id = vocab_.find(s.substr(symbols[left].offset, length));
            if (id < 0) return;
            queue.push({vocab_.score[id], left, right, length});
        };
        for (int32_t i = begin + 1; i < end; ++i) try_pair(i - 1, i);

        while (!queue.empty()) {
            const Bigram top = queue.top();
            queue.pop();
            Symbol& left = symbols[top.left];
            Symbol& right = symbols[top.right];
            if (left.length == 0 || right.length == 0 || left.length + right.length != top.length) continue;
            left.length += right.length;
            right.length = 0;
            left.next = right.next;
            if (right.next >= 0) symbols[right.next].prev = top.left;
            try_pair(left.prev, top.left);
            try_pair(top.left, left.next);
        }

        // Merges keep the left symbol, so the run's first symbol heads it.
        for (int32_t i = begin; i >= 0; i = symbols[i].next) {
            const std::string_view piece = s.substr(symbols[i].offset, symbols[i].length);
            const int32_t id = vocab_.find(piece);
            if (id >= 0) {
                out.push_back(id);
                continue;
            }
            for (char c : piece) {
                const int32_t byte_id = byte_token_[static_cast<uint8_t>(c)];
                if (byte_id >= 0) out.push_back(byte_id);
            }
        }
    }

    std::string token_piece(int32_t id) const override {
        const uint32_t attr = vocab_.attr[id];
        const std::string& text = vocab_.text[id];
        if (attr & kAttrUserDefined) return text;
        if (attr & kAttrByte) {
            unsigned value = 0;
            if (text.size() == 6 && std::sscanf(text.c_str(), "<0x%2X>", &value) == 1) {
                return std::string(1, static_cast<char>(value));
            }
            return text;
        }
        if (attr & kAttrNormal) {
            std::string piece;
            piece.reserve(text.size());
            for (size_t i = 0; i < text.size();) {
                if (text.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
                    piece += ' ';
                    i += kSpaceMark.size();
                } else {
                    piece += text[i++];
                }
            }
            return piece;
        }
        return {};  // unused and undefined tokens print nothing
    }

    int32_t byte_token_[256];
    std::array<bool, 128> barrier_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_spm_tokenizer(const gguf::File& file) {
    VocabDefaults defaults;
    defaults.bos = 1;
    defaults.eos = 2;
    defaults.unk = 0;
    defaults.add_bos = true;
    defaults.add_space_prefix = true;
    return std::make_unique<SpmTokenizer>(load_vocab(file, defaults));
}

}  // namespace worker::tokenizer
