// Byte-level BPE ("gpt2"): text split into words by the pre-tokenizer
// patterns that tokenizer.ggml.pre names, each byte of a word written as one
// printable code point (GPT-2's byte encoder), then merged by merge rank.
// Also the SentencePiece-style BPE of Gemma 4 ("gemma4"): spaces written as
// U+2581, merges over raw UTF-8, <0xNN> tokens for bytes without a token.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <cstdio>
#include <queue>

#include "core/error.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace worker::tokenizer {
namespace {

// ---- pre-tokenizer patterns ---------------------------------------------------
// Patterns of the models' tokenizer.json files, in the form llama.cpp
// (llama-vocab.cpp) runs them: case-insensitive groups spelt out, and the
// list applied in order, each pattern splitting the pieces of the one before.

constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen 3.5: Qwen 2's pattern with combining marks (\p{M}) joining letter runs.
constexpr const char* kQwen35 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// SentencePiece-style BPE (Gemma 4): no word splitting but at newlines, which
// no merge crosses.
constexpr const char* kNewlineRuns = R"([^\n]+|\n+)";
// Escaped code points, not literal characters: some (U+1FBE, U+1FD3, U+2126,
// U+212A, ...) have singleton canonical decompositions, and any tool that
// NFC-normalizes this file would silently turn them into other characters.
constexpr const char* kDeepseekLlmLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
// llama.cpp matches patterns without \p{..} with std::wregex on text whose
// non-ASCII whitespace it has replaced by U+000B, so such characters match \s
// and never an explicit range. Hence the ranges here leave whitespace out:
// U+3000 (start of "　-。") above, and U+0800..U+4E00's spaces below.
constexpr const char* kDeepseekCjk = R"((?:(?!\s)[一-龥ࠀ-一가-퟿])+)";
constexpr const char* kGpt4o =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kTekken =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kPoro = R"( ?[^(\s|.,!?…。，、।۔،)]+)";

struct PreTokenizerSpec {
    std::vector<std::string> patterns;
    bool ignore_merges = false;  // a word that is itself a token is not merged (llama-3 style)
    bool add_bos = false;        // default of tokenizer.ggml.add_bos_token
    bool force_add_bos = false;  // BOS added whatever tokenizer.ggml.add_bos_token says
    // GPT-2's byte encoder; false: merges over raw UTF-8, spaces written as
    // U+2581 first, <0xNN> tokens for bytes that end up without a token.
    bool byte_encode = true;
    bool newline_words_whole = false;  // a word of newlines that is a token is taken whole
};

// Returns false for a name we do not know.
bool pre_tokenizer_spec(const std::string& name, PreTokenizerSpec& spec) {
    const auto is = [&name](std::initializer_list<const char*> names) {
        for (const char* n : names) {
            if (name == n) return true;
        }
        return false;
    };
    if (name.empty() || name == "default") {
        spec.patterns = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
    } else if (is({"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
                   "jina-v5-nano"})) {
        spec.patterns = {kLlama3};
        spec.ignore_merges = true;
        spec.add_bos = true;
    } else if (is({"dbrx", "smaug-bpe", "chatglm-bpe"})) {
        spec.patterns = {kLlama3};
    } else if (is({"glm4", "glm5"})) {
        spec.patterns = {kLlama3};
        spec.ignore_merges = true;
    } else if (name == "deepseek-llm") {
        spec.patterns = {R"([\r\n])", kDeepseekLlmLetters, R"(\s?[!-/:-~！-／：-～‘-‟、-。]+)",
                         R"(\s+$)",   kDeepseekCjk,        R"(\p{N}+)"};
    } else if (name == "deepseek-coder") {
        spec.patterns = {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"};
    } else if (name == "deepseek-v3") {
        spec.patterns = {
            R"(\p{N}{1,3})", R"([一-龥぀-ゟ゠-ヿ]+)",
            R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
    } else if (name == "falcon") {
        spec.patterns = {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"};
    } else if (is({"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"})) {
        spec.patterns = {R"(\p{N})", kGpt2};
    } else if (is({"gpt-2", "phi-2", "mpt", "olmo", "jais", "jina-es", "jina-de", "gigachat", "jina-v1-en",
                   "jina-v2-es", "jina-v2-de", "jina-v2-code", "roberta-bpe", "trillion", "exaone4", "a.x-4.0",
                   "mellum", "modern-bert", "granite-docling"})) {
        spec.patterns = {kGpt2};
    } else if (is({"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan", "kormo", "f2llmv2"})) {
        spec.patterns = {kQwen2};
    } else if (name == "qwen35") {
        spec.patterns = {kQwen35};
    } else if (is({"gemma4", "granite-embed-multi-311m"})) {
        spec.patterns = {kNewlineRuns};
        spec.byte_encode = false;
        spec.newline_words_whole = true;
        spec.force_add_bos = true;
    } else if (name == "sarvam-moe") {
        spec.patterns = {kNewlineRuns};
        spec.byte_encode = false;
    } else if (is({"poro-chat", "bloom", "gpt3-finnish"})) {
        spec.patterns = {kPoro};
    } else if (name == "viking") {
        spec.patterns = {kPoro, R"(\p{N})"};
    } else if (is({"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"})) {
        spec.patterns = {kGpt4o};
    } else if (name == "tekken") {
        spec.patterns = {kTekken};
        spec.ignore_merges = true;
        spec.add_bos = true;
    } else {
        return false;
    }
    return true;
}

// ---- PCRE2 --------------------------------------------------------------------

struct CodeDeleter {
    void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
using Code = std::unique_ptr<pcre2_code, CodeDeleter>;

// Match data and a JIT stack per thread: encode() is const and may run on
// several threads at once, and long whitespace runs need more JIT stack than
// the 32 KiB default.
struct MatchScratch {
    // JIT stack sizes: what most text needs, and the most one match may take.
    // A run of one letter (600k 'a') can need more than the first; a match
    // that needs more than the last runs in the interpreter, whose
    // backtracking lives on the heap.
    static constexpr size_t kStartStack = 16u << 20;
    static constexpr size_t kLargestStack = 1u << 30;

    pcre2_match_data* data = nullptr;
    pcre2_match_context* context = nullptr;
    pcre2_jit_stack* jit_stack = nullptr;
    size_t stack_size = 0;

    MatchScratch() {
        data = pcre2_match_data_create(32, nullptr);
        context = pcre2_match_context_create(nullptr);
        use_stack(kStartStack);
    }
    // Replaces the JIT stack with one of `size` bytes (reserved, filled as
    // needed); false when it cannot be had.
    bool use_stack(size_t size) {
        if (context == nullptr) return false;
        pcre2_jit_stack* stack = pcre2_jit_stack_create(64 * 1024, size, nullptr);
        if (stack == nullptr) return false;
        pcre2_jit_stack_assign(context, nullptr, stack);
        pcre2_jit_stack_free(jit_stack);
        jit_stack = stack;
        stack_size = size;
        return true;
    }
    ~MatchScratch() {
        pcre2_jit_stack_free(jit_stack);
        pcre2_match_context_free(context);
        pcre2_match_data_free(data);
    }
    MatchScratch(const MatchScratch&) = delete;
    MatchScratch& operator=(const MatchScratch&) = delete;
};

MatchScratch& scratch() {
    thread_local MatchScratch s;
    if (s.data == nullptr || s.context == nullptr) fail(CUDA_ERROR_OUT_OF_MEMORY, "PCRE2 match data allocation failed");
    return s;
}

std::string pcre2_message(int code) {
    PCRE2_UCHAR buffer[256];
    pcre2_get_error_message(code, buffer, sizeof buffer);
    return reinterpret_cast<const char*>(buffer);
}

struct Span {
    size_t begin;
    size_t end;
};

class PreTokenizer {
public:
    explicit PreTokenizer(const std::vector<std::string>& patterns) {
        for (const std::string& pattern : patterns) {
            int error = 0;
            PCRE2_SIZE error_offset = 0;
            // UCP: \s, \d, \w and POSIX classes follow Unicode properties.
            // DOLLAR_ENDONLY: "$" means the end of the piece only, as in the
            // ECMAScript regexes llama.cpp runs (PCRE2 would also match before
            // a final newline).
            // Owned at once: anything below may throw (bad_alloc) and must not leak it.
            Code code(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                    PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &error, &error_offset, nullptr));
            if (!code) {
                fail(CUDA_ERROR_MODEL_LOAD_FAILED, "pre-tokenizer pattern '", pattern, "' does not compile at offset ",
                     error_offset, ": ", pcre2_message(error));
            }
            // Falls back to the interpreter when JIT is unavailable.
            pcre2_jit_compile(code.get(), PCRE2_JIT_COMPLETE);
            codes_.push_back(std::move(code));
        }
    }

    // Splits valid UTF-8 text into words and calls on_word(Span) for each,
    // in order. Like llama.cpp's splitter, what lies between two matches is a
    // word too, so no byte is ever dropped. Depth-first over the patterns, so
    // no list of all words is ever built.
    template <typename OnWord>
    void split(std::string_view text, OnWord&& on_word) const {
        if (text.empty()) return;
        split_piece(0, text, {0, text.size()}, scratch(), on_word);
    }

private:
    template <typename OnWord>
    void split_piece(size_t level, std::string_view text, Span piece, MatchScratch& s, OnWord& on_word) const {
        if (level == codes_.size()) {
            on_word(piece);
            return;
        }
        const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
        const size_t length = piece.end - piece.begin;
        size_t last = 0;
        size_t start = 0;
        while (start < length) {
            const int rc = match(codes_[level].get(), subject, length, start, s);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) fail(CUDA_ERROR_INFERENCE_FAILED, "pre-tokenizer match failed: ", pcre2_message(rc));
            // Read the match before recursing: the deeper levels reuse s.data.
            const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(s.data);
            const size_t match_begin = ovector[0];
            const size_t match_end = ovector[1];
            if (match_begin > last) {
                split_piece(level + 1, text, {piece.begin + last, piece.begin + match_begin}, s, on_word);
            }
            if (match_end > match_begin) {
                split_piece(level + 1, text, {piece.begin + match_begin, piece.begin + match_end}, s, on_word);
                last = match_end;
                start = match_end;
            } else {
                // An empty match splits nothing; step over one character.
                last = match_begin;
                start = match_begin + utf8_sequence_length(static_cast<uint8_t>(text[piece.begin + match_begin]));
            }
        }
        if (last < length) split_piece(level + 1, text, {piece.begin + last, piece.end}, s, on_word);
    }

    // pcre2_match with the JIT stack grown as a long match needs it, then the
    // interpreter for what no JIT stack fits.
    static int match(const pcre2_code* code, PCRE2_SPTR subject, size_t length, size_t start, MatchScratch& s) {
        for (;;) {
            const int rc = pcre2_match(code, subject, length, start, PCRE2_NO_UTF_CHECK, s.data, s.context);
            if (rc != PCRE2_ERROR_JIT_STACKLIMIT) return rc;
            if (s.stack_size >= MatchScratch::kLargestStack || !s.use_stack(s.stack_size * 4)) {
                return pcre2_match(code, subject, length, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, s.data,
                                   s.context);
            }
        }
    }

    std::vector<Code> codes_;
};

// ---- the tokenizer ----------------------------------------------------------

class BpeTokenizer final : public VocabTokenizer {
public:
    BpeTokenizer(Vocab vocab, const std::vector<std::string>& merges, const PreTokenizerSpec& spec)
        : VocabTokenizer(std::move(vocab)),
          pre_(spec.patterns),
          ignore_merges_(spec.ignore_merges),
          byte_encode_(spec.byte_encode),
          newline_words_whole_(spec.newline_words_whole) {
        build_byte_encoder();
        for (int b = 0; b < 256; ++b) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            byte_fallback_[b] = byte_encode_ ? vocab_.find(std::string(1, static_cast<char>(b))) : vocab_.find(name);
        }
        ranks_.reserve(merges.size());
        for (size_t i = 0; i < merges.size(); ++i) {
            // "left right"; the first of duplicate rules wins, as in llama.cpp.
            ranks_.emplace(merges[i], static_cast<int32_t>(i));
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
    struct Pair {
        int32_t rank;
        int32_t left;
        int32_t right;
        uint32_t left_length;
        uint32_t right_length;
    };
    // Lowest rank first; on a tie the leftmost pair.
    struct Later {
        bool operator()(const Pair& a, const Pair& b) const {
            return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
        }
    };

    // GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
    // the other 68 bytes for U+0100 onwards, in byte order.
    void build_byte_encoder() {
        uint32_t next_cp = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const uint32_t cp = printable ? static_cast<uint32_t>(b) : next_cp++;
            utf8_append(byte_encoded_[b], cp);
            byte_decoded_.emplace(cp, static_cast<uint8_t>(b));
        }
    }

    int32_t rank(std::string_view left, std::string_view right, std::string& key) const {
        key.assign(left);
        key += ' ';
        key += right;
        const auto it = ranks_.find(key);
        return it == ranks_.end() ? -1 : it->second;
    }

    void encode_text(std::string_view raw, bool, std::vector<int32_t>& out) const override {
        // Words are cut from `text`; the patterns run on `match`, which has the
        // same length and offsets but is valid UTF-8 for PCRE2.
        std::string repaired;
        std::string match_copy;
        std::string_view text = raw;
        std::string_view match = raw;
        if (!utf8_is_valid(raw)) {
            repaired = utf8_repair_like_llama(raw);
            match_copy = utf8_without_surrogates(repaired);
            text = repaired;
            match = match_copy;
        }
        std::string escaped_text;
        std::string escaped_match;
        if (!byte_encode_) {
            // Spaces become U+2581 before splitting, in both copies alike
            // (a space is one byte there too, so offsets stay in step).
            escaped_text = escape_spaces(text);
            text = escaped_text;
            if (match.data() == raw.data()) {
                match = text;
            } else {
                escaped_match = escape_spaces(match);
                match = escaped_match;
            }
        }

        std::string word;
        std::string key;
        std::vector<Symbol> symbols;
        std::priority_queue<Pair, std::vector<Pair>, Later> queue;
        // Words repeat a lot in real text: remember the ids of short words
        // within this call (a per-call cache keeps encode() thread-safe).
        StringMap<std::pair<size_t, size_t>> cache;  // word -> (offset, count) in cached_ids
        std::vector<int32_t> cached_ids;
        constexpr size_t kMaxCachedWordBytes = 64;
        constexpr size_t kMaxCachedWords = 1 << 16;
        pre_.split(match, [&](const Span& span) {
            const std::string_view raw_word = text.substr(span.begin, span.end - span.begin);
            const bool cacheable = raw_word.size() <= kMaxCachedWordBytes;
            if (cacheable) {
                if (const auto it = cache.find(raw_word); it != cache.end()) {
                    out.insert(out.end(), cached_ids.begin() + it->second.first,
                               cached_ids.begin() + it->second.first + it->second.second);
                    return;
                }
            }
            const size_t out_before = out.size();
            encode_word(raw_word, word, key, symbols, queue, out);
            if (cacheable && cache.size() < kMaxCachedWords) {
                cache.emplace(raw_word, std::make_pair(cached_ids.size(), out.size() - out_before));
                cached_ids.insert(cached_ids.end(), out.begin() + out_before, out.end());
            }
        });
    }

    static std::string escape_spaces(std::string_view text) {
        std::string out;
        out.reserve(text.size() + text.size() / 4);
        for (char c : text) {
            if (c == ' ') {
                out += "\xE2\x96\x81";  // U+2581
            } else {
                out += c;
            }
        }
        return out;
    }

    void encode_word(std::string_view raw_word, std::string& word, std::string& key, std::vector<Symbol>& symbols,
                     std::priority_queue<Pair, std::vector<Pair>, Later>& queue, std::vector<int32_t>& out) const {
        word.clear();
        if (byte_encode_) {
            for (char c : raw_word) word += byte_encoded_[static_cast<uint8_t>(c)];
        } else {
            word.assign(raw_word);
        }
        if (word.empty()) return;
        if (ignore_merges_ || (newline_words_whole_ && word.find_first_not_of('\n') == std::string::npos)) {
            if (const int32_t id = vocab_.find(word); id >= 0) {
                out.push_back(id);
                return;
            }
        }

        // One symbol per byte of the original word; each merge queues only
        // the two pairs around it, so a word costs O(n log n) however long
        // the run of one character.
        symbols.clear();
        for (size_t offset = 0; offset < word.size();) {
            const size_t n = utf8_sequence_length(static_cast<uint8_t>(word[offset]));
            const auto index = static_cast<int32_t>(symbols.size());
            symbols.push_back({index - 1, offset + n == word.size() ? -1 : index + 1, static_cast<uint32_t>(offset),
                               static_cast<uint32_t>(n)});
            offset += n;
        }
        const std::string_view w(word);
        const auto try_pair = [&](int32_t left, int32_t right) {
            if (left < 0 || right < 0) return;
            const Symbol& l = symbols[left];
            const Symbol& r = symbols[right];
            const int32_t found = rank(w.substr(l.offset, l.length), w.substr(r.offset, r.length), key);
            if (found >= 0) queue.push({found, left, right, l.length, r.length});
        };
        for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_pair(i - 1, i);
        while (!queue.empty()) {
            const Pair top = queue.top();
            queue.pop();
            Symbol& left = symbols[top.left];
            Symbol& right = symbols[top.right];
            if (left.length != top.left_length || right.length != top.right_length || left.next != top.right) {
                continue;  // one side changed since the pair was queued
            }
            left.length += right.length;
            right.length = 0;
            left.next = right.next;
            if (right.next >= 0) symbols[right.next].prev = top.left;
            try_pair(left.prev, top.left);
            try_pair(top.left, left.next);
        }

        for (int32_t i = 0; i >= 0; i = symbols[i].next) {
            const std::string_view piece = w.substr(symbols[i].offset, symbols[i].length);
            const int32_t id = vocab_.find(piece);
            if (id >= 0) {
                out.push_back(id);
                continue;
            }
            // A merge result missing from the vocabulary: fall back to
            // single-byte tokens where they exist (llama.cpp does the same):
            // the byte's own text, or its <0xNN> token without byte encoding.
            for (char c : piece) {
                if (const int32_t byte_id = byte_fallback_[static_cast<uint8_t>(c)]; byte_id >= 0) {
                    out.push_back(byte_id);
                }
            }
        }
    }

    std::string token_piece(int32_t id) const override {
        const uint32_t attr = vocab_.attr[id];
        const std::string& text = vocab_.text[id];
        if (attr & kAttrUserDefined) return text;
        if ((attr & kAttrNormal) && !byte_encode_) {
            // U+2581 stands for a space; everything else is itself.
            std::string piece;
            piece.reserve(text.size());
            for (size_t i = 0; i < text.size();) {
                if (text.compare(i, 3, "\xE2\x96\x81") == 0) {
                    piece += ' ';
                    i += 3;
                } else {
                    piece += text[i++];
                }
            }
            return piece;
        }
        if (attr & kAttrNormal) {
            std::string piece;
            piece.reserve(text.size());
            for (size_t i = 0; i < text.size();) {
                size_t n = utf8_valid_length(text, i);
                if (n == 0) {
                    piece += text[i++];
                    continue;
                }
                const auto it = byte_decoded_.find(utf8_decode(text, i, n));
                if (it != byte_decoded_.end()) {
                    piece += static_cast<char>(it->second);
                } else {
                    piece.append(text, i, n);  // not byte-encoded: keep the character
                }
                i += n;
            }
            return piece;
        }
        if (attr & kAttrByte) {
            unsigned value = 0;
            if (text.size() == 6 && std::sscanf(text.c_str(), "<0x%2X>", &value) == 1) {
                return std::string(1, static_cast<char>(value));
            }
        }
        return {};
    }

    PreTokenizer pre_;
    bool ignore_merges_;
    bool byte_encode_;
    bool newline_words_whole_;
    std::array<int32_t, 256> byte_fallback_{};
    StringMap<int32_t> ranks_;
    std::array<std::string, 256> byte_encoded_;
    std::unordered_map<uint32_t, uint8_t> byte_decoded_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_tokenizer(const gguf::File& file, bool gemma4) {
    // A "gemma4" tokenizer model always pre-tokenizes as gemma4, whatever
    // tokenizer.ggml.pre says (llama.cpp makes the same call).
    const std::string pre = gemma4 ? "gemma4" : file.get_string_or("tokenizer.ggml.pre", "");
    PreTokenizerSpec spec;
    if (!pre_tokenizer_spec(pre, spec)) {
        fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(), "': metadata key 'tokenizer.ggml.pre' is '",
             pre, "', a pre-tokenizer this build does not know");
    }
    VocabDefaults defaults;
    defaults.add_bos = spec.add_bos;
    Vocab vocab = load_vocab(file, defaults);
    if (spec.force_add_bos && !vocab.add_bos) {
        // Gemma 4 files may say false; the model needs its BOS (llama.cpp
        // overrides the flag the same way).
        if (vocab.bos < 0) {
            fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(), "': pre-tokenizer '", pre,
                 "' adds BOS, but tokenizer.ggml.bos_token_id is missing");
        }
        vocab.add_bos = true;
    }
    // The BPE encoder never adds a leading space, so decode() must not take
    // one off, whatever tokenizer.ggml.add_space_prefix says.
    vocab.add_space_prefix = false;
    return std::make_unique<BpeTokenizer>(std::move(vocab), file.get_string_array("tokenizer.ggml.merges"), spec);
}

}  // namespace worker::tokenizer
