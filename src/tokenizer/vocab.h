// Internal to src/tokenizer: the vocabulary read from tokenizer.ggml.*, the
// special-token matcher, and the base class both tokenizer models share.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace worker::tokenizer {

// Attributes of a token, from tokenizer.ggml.token_type plus what the loader
// infers (llama.cpp's llama_token_attr uses the same meaning).
enum TokenAttr : uint32_t {
    kAttrNormal = 1u << 0,
    kAttrUnknown = 1u << 1,
    kAttrControl = 1u << 2,
    kAttrUserDefined = 1u << 3,
    kAttrUnused = 1u << 4,
    kAttrByte = 1u << 5,
    kAttrLstrip = 1u << 6,  // a match swallows the whitespace before it
    kAttrRstrip = 1u << 7,  // ... and after it
};

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct Vocab {
    std::vector<std::string> text;
    std::vector<float> score;
    std::vector<uint32_t> attr;
    StringMap<int32_t> ids;
    size_t max_token_bytes = 0;

    int32_t bos = -1;
    int32_t eos = -1;
    int32_t eot = -1;
    int32_t unk = -1;
    int32_t pad = -1;
    bool add_bos = false;
    bool add_eos = false;
    bool add_space_prefix = false;
    std::vector<bool> eog;

    int32_t size() const { return static_cast<int32_t>(text.size()); }
    int32_t find(std::string_view s) const {
        const auto it = ids.find(s);
        return it == ids.end() ? -1 : it->second;
    }
};

// Reads tokens, scores, types and the special ids and flags. `model_defaults`
// gives the defaults of the tokenizer model before the metadata overrides them.
struct VocabDefaults {
    int32_t bos = -1;
    int32_t eos = -1;
    int32_t unk = -1;
    bool add_bos = false;
    bool add_space_prefix = false;
};
Vocab load_vocab(const gguf::File& file, const VocabDefaults& model_defaults);

// Finds special-token text in a prompt: the leftmost occurrence of any token
// of the set, the longest one at that position (the rule of Hugging Face's
// added-token matcher). Linear in the text whatever the tokens: one
// Aho-Corasick pass over the text from its end, through the automaton of the
// reversed token texts, gives the longest token starting at every position.
class SpecialMatcher {
public:
    SpecialMatcher() = default;
    // Tokens with any attribute of `include` and none of `exclude`.
    SpecialMatcher(const Vocab& vocab, uint32_t include, uint32_t exclude);

    // For each byte position of `text`: the id of the longest token of the
    // set that starts there, or -1.
    std::vector<int32_t> longest_at(std::string_view text) const;
    bool empty() const { return nodes_.size() <= 1; }

private:
    struct Node {
        std::vector<std::pair<uint8_t, int32_t>> next;  // sorted by byte
        int32_t token = -1;    // the token whose reversed text ends here
        int32_t fail = 0;      // longest proper suffix that is also a node
        int32_t longest = -1;  // the longest token among this node's suffixes
    };
    int32_t child(int32_t node, uint8_t byte) const;
    int32_t step(int32_t node, uint8_t byte) const;

    std::vector<Node> nodes_{Node{}};
};

// What both models share: special-token partitioning, BOS/EOS, pieces, decode.
class VocabTokenizer : public Tokenizer {
public:
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override;
    const std::string& token_bytes(int32_t id) const override;
    const std::string& token_text(int32_t id) const override;
    std::string decode(const std::vector<int32_t>& ids, bool render_special) const override;
    int32_t n_vocab() const override { return vocab_.size(); }
    int32_t bos_id() const override { return vocab_.bos; }
    int32_t eos_id() const override { return vocab_.eos; }
    int32_t eot_id() const override { return vocab_.eot; }
    int32_t pad_id() const override { return vocab_.pad; }
    bool add_bos() const override { return vocab_.add_bos; }
    bool add_eos() const override { return vocab_.add_eos; }
    bool is_eog(int32_t id) const override;
    bool is_control(int32_t id) const override;

protected:
    explicit VocabTokenizer(Vocab vocab);
    // Call at the end of the derived constructor: builds the matchers and the
    // piece of every token with token_piece().
    void finish_setup();

    // Tokenizes ordinary text that contains no special token. `after_special`
    // is true at the start of the prompt and right after a special token.
    virtual void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const = 0;
    // The bytes the token stands for in generated text.
    virtual std::string token_piece(int32_t id) const = 0;

    Vocab vocab_;

private:
    void check_id(int32_t id) const;

    std::vector<std::string> pieces_;
    SpecialMatcher all_special_;   // control, user-defined and unknown tokens
    SpecialMatcher user_defined_;  // not control: matched even in plain text, as llama.cpp and HF do
};

// gemma4: the "gemma4" tokenizer model (SentencePiece-style BPE).
std::unique_ptr<Tokenizer> make_bpe_tokenizer(const gguf::File& file, bool gemma4);
std::unique_ptr<Tokenizer> make_spm_tokenizer(const gguf::File& file);

}  // namespace worker::tokenizer
