#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace worker::tokenizer {
namespace {

constexpr std::string_view kModelKey = "tokenizer.ggml.model";
constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
constexpr std::string_view kTypesKey = "tokenizer.ggml.token_type";

// GGUF token types (gguf-py's TokenType).
uint32_t attr_from_type(int32_t type) {
    switch (type) {
        case 1:
            return kAttrNormal;
        case 2:
            return kAttrUnknown;
        case 3:
            return kAttrControl;
        case 4:
            return kAttrUserDefined;
        case 5:
            return kAttrUnused;
        case 6:
            return kAttrByte;
        default:
            return 0;  // undefined: never produced from text, never printed
    }
}

// Token texts that end generation although the metadata may not say so; the
// list llama.cpp keeps for the same purpose (its issue 9606), so that both
// stop on the same tokens and treat them as control tokens.
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
};
// The end-of-turn token when the metadata names none, in order of preference.
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>",         "<end_of_turn>",      "<|endoftext|>",
    "<EOT>",      "_<EOT>",     "<|end_of_text|>", "<end_of_utterance>", "<｜end▁of▁sentence｜>",
};

int32_t optional_id(const gguf::File& file, std::string_view key, int32_t fallback, int32_t n_vocab) {
    if (!file.has(key)) return fallback;
    const uint32_t id = file.get_u32(key);
    if (id >= static_cast<uint32_t>(n_vocab)) {
        fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(), "': metadata key '", key, "' = ", id,
             " is outside the vocabulary of ", n_vocab, " tokens");
    }
    return static_cast<int32_t>(id);
}

// Texts, scores and token types, and the id of every text.
void read_tokens(const gguf::File& file, Vocab& v) {
    v.text = file.get_string_array(kTokensKey);
    const auto n = static_cast<int32_t>(v.text.size());
    if (n == 0) fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(), "': '", kTokensKey, "' is empty");

    v.score.assign(v.text.size(), 0.0f);
    if (file.has(kScoresKey)) {
        v.score = file.get_f32_array(kScoresKey);
        if (v.score.size() != v.text.size()) {
            fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(), "': '", kScoresKey, "' has ",
                 v.score.size(), " entries for ", n, " tokens");
        }
    }
    v.attr.assign(v.text.size(), kAttrNormal);
    if (file.has(kTypesKey)) {
        const std::vector<int32_t> types = file.get_i32_array(kTypesKey);
        if (types.size() != v.text.size()) {
            fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(), "': '", kTypesKey, "' has ", types.size(),
                 " entries for ", n, " tokens");
        }
        for (size_t i = 0; i < types.size(); ++i) v.attr[i] = attr_from_type(types[i]);
    }

    v.ids.reserve(v.text.size());
    for (int32_t id = 0; id < n; ++id) {
        if (!v.ids.emplace(v.text[id], id).second) {
            fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(), "': '", kTokensKey, "' holds token '",
                 v.text[id], "' twice (ids ", v.ids.at(v.text[id]), " and ", id, ")");
        }
        v.max_token_bytes = std::max(v.max_token_bytes, v.text[id].size());
    }
}

// BOS, EOS, UNK, PAD, EOT and the add-BOS/EOS/space flags; returns EOM.
int32_t read_special_ids(const gguf::File& file, const VocabDefaults& defaults, Vocab& v) {
    const int32_t n = v.size();
    const auto in_range = [n](int32_t id) { return id >= 0 && id < n ? id : -1; };
    v.bos = optional_id(file, "tokenizer.ggml.bos_token_id", in_range(defaults.bos), n);
    v.eos = optional_id(file, "tokenizer.ggml.eos_token_id", in_range(defaults.eos), n);
    v.unk = optional_id(file, "tokenizer.ggml.unknown_token_id", in_range(defaults.unk), n);
    v.pad = optional_id(file, "tokenizer.ggml.padding_token_id", -1, n);
    v.eot = optional_id(file, "tokenizer.ggml.eot_token_id", -1, n);
    const int32_t eom = optional_id(file, "tokenizer.ggml.eom_token_id", -1, n);
    v.add_bos = file.get_bool_or("tokenizer.ggml.add_bos_token", defaults.add_bos);
    v.add_eos = file.get_bool_or("tokenizer.ggml.add_eos_token", false);
    v.add_space_prefix = file.get_bool_or("tokenizer.ggml.add_space_prefix", defaults.add_space_prefix);
    if (v.add_bos && v.bos < 0) {
        fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(),
             "': tokenizer.ggml.add_bos_token is true but tokenizer.ggml.bos_token_id is missing");
    }
    if (v.add_eos && v.eos < 0) {
        fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(),
             "': tokenizer.ggml.add_eos_token is true but tokenizer.ggml.eos_token_id is missing");
    }
    if (v.eot < 0) {
        for (std::string_view text : kEotTexts) {
            v.eot = v.find(text);
            if (v.eot >= 0) break;
        }
    }
    return eom;
}

// Which tokens end generation (and so are control tokens).
void mark_end_of_generation(Vocab& v, int32_t eom) {
    // End-of-generation tokens are control tokens even where a converter
    // forgot to mark them, so that plain text never produces them.
    v.eog.assign(v.text.size(), false);
    for (std::string_view text : kEogTexts) {
        const int32_t id = v.find(text);
        if (id < 0) continue;
        v.eog[id] = true;
        v.attr[id] |= kAttrControl;
    }
    for (int32_t id : {v.eos, v.eot, eom}) {
        if (id < 0) continue;
        v.eog[id] = true;
        v.attr[id] |= kAttrControl;
    }
    const auto eog_text = [&v](std::string_view text) {
        const int32_t id = v.find(text);
        return id >= 0 && v.eog[id] ? id : -1;
    };
    // Harmony-style vocabularies use <|end|> between messages of one turn:
    // there it is ordinary text, not the end (llama.cpp makes the same call).
    const bool has_call = eog_text("<|call|>") >= 0 || eog_text("<|calls|>") >= 0;
    if (const int32_t end = eog_text("<|end|>");
        end >= 0 && has_call && (eog_text("<|return|>") >= 0 || eog_text("<|flush|>") >= 0)) {
        v.eog[end] = false;
        v.attr[end] = kAttrUserDefined;
    }
    // Where <|tool_response> exists, </s> is ordinary text (Gemma 4).
    if (const int32_t s = eog_text("</s>"); s >= 0 && eog_text("<|tool_response>") >= 0 && s != v.eos) {
        v.eog[s] = false;
        v.attr[s] = kAttrNormal;
    }
}

// Phi-3's special tokens eat the whitespace after them (its tokenizer.json
// marks them rstrip; GGUF has no field for it, llama.cpp keys on the name).
void mark_phi3_rstrip(const gguf::File& file, Vocab& v) {
    std::string name = file.get_string_or("general.name", "");
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (name.find("phi-3") == std::string::npos && name.find("phi3") == std::string::npos) return;
    for (int32_t id = 0; id < v.size(); ++id) {
        if (v.attr[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) v.attr[id] |= kAttrRstrip;
    }
    if (const int32_t id = v.find("</s>"); id >= 0) v.attr[id] |= kAttrRstrip;
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) {
        if (const int32_t id = v.find(text); id >= 0) v.attr[id] &= ~kAttrRstrip;
    }
}

}  // namespace

Vocab load_vocab(const gguf::File& file, const VocabDefaults& defaults) {
    Vocab v;
    read_tokens(file, v);
    const int32_t eom = read_special_ids(file, defaults, v);
    mark_end_of_generation(v, eom);
    mark_phi3_rstrip(file, v);
    return v;
}

// ---- SpecialMatcher -----------------------------------------------------------

SpecialMatcher::SpecialMatcher(const Vocab& vocab, uint32_t include, uint32_t exclude) {
    for (int32_t id = 0; id < vocab.size(); ++id) {
        if ((vocab.attr[id] & include) == 0 || (vocab.attr[id] & exclude) != 0) continue;
        const std::string& text = vocab.text[id];
        if (text.empty()) continue;
        int32_t node = 0;
        for (auto it = text.rbegin(); it != text.rend(); ++it) {
            const auto byte = static_cast<uint8_t>(*it);
            int32_t next = child(node, byte);
            if (next < 0) {
                next = static_cast<int32_t>(nodes_.size());
                nodes_.emplace_back();
                auto& edges = nodes_[node].next;
                edges.insert(std::lower_bound(edges.begin(), edges.end(), std::make_pair(byte, int32_t{-1})),
                             {byte, next});
            }
            node = next;
        }
        nodes_[node].token = id;
    }
    // Failure links breadth first: a node's suffixes are shallower than it.
    std::vector<int32_t> queue;
    queue.reserve(nodes_.size());
    for (const auto& [byte, next] : nodes_[0].next) {
        nodes_[next].fail = 0;
        queue.push_back(next);
    }
    for (size_t head = 0; head < queue.size(); ++head) {
        const int32_t node = queue[head];
        Node& n = nodes_[node];
        n.longest = n.token >= 0 ? n.token : nodes_[n.fail].longest;
        for (const auto& [byte, next] : n.next) {
            int32_t f = n.fail;
            while (f != 0 && child(f, byte) < 0) f = nodes_[f].fail;
            const int32_t target = child(f, byte);
            nodes_[next].fail = target >= 0 && target != next ? target : 0;
            queue.push_back(next);
        }
    }
}

int32_t SpecialMatcher::child(int32_t node, uint8_t byte) const {
    const auto& edges = nodes_[node].next;
    const auto it = std::lower_bound(edges.begin(), edges.end(), std::make_pair(byte, int32_t{-1}));
    return it != edges.end() && it->first == byte ? it->second : -1;
}

int32_t SpecialMatcher::step(int32_t node, uint8_t byte) const {
    for (;;) {
        const int32_t next = child(node, byte);
        if (next >= 0) return next;
        if (node == 0) return 0;
        node = nodes_[node].fail;
    }
}

std::vector<int32_t> SpecialMatcher::longest_at(std::string_view text) const {
    std::vector<int32_t> longest(text.size(), -1);
    if (empty()) return longest;
    // After reading text[p..] backwards, the node is the longest suffix of
    // that reversed text which is a prefix of a reversed token, i.e. the
    // longest prefix of text[p..] that a token's text ends with; its
    // `longest` is the longest token that text[p..] starts with.
    int32_t node = 0;
    for (size_t p = text.size(); p-- > 0;) {
        node = step(node, static_cast<uint8_t>(text[p]));
        longest[p] = nodes_[node].longest;
    }
    return longest;
}

// ---- VocabTokenizer ------------------------------------------------------------

VocabTokenizer::VocabTokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}

void VocabTokenizer::finish_setup() {
    all_special_ = SpecialMatcher(vocab_, kAttrControl | kAttrUserDefined | kAttrUnknown, 0);
    user_defined_ = SpecialMatcher(vocab_, kAttrUserDefined, kAttrControl | kAttrUnknown);
    pieces_.resize(vocab_.text.size());
    for (int32_t id = 0; id < vocab_.size(); ++id) {
        if (vocab_.attr[id] & (kAttrControl | kAttrUnknown)) continue;  // never part of generated text
        pieces_[id] = token_piece(id);
    }
}

std::vector<int32_t> VocabTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_special && vocab_.add_bos) out.push_back(vocab_.bos);

    const SpecialMatcher& matcher = parse_special ? all_special_ : user_defined_;
    const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
    const std::vector<int32_t> special_at = matcher.longest_at(text);
    bool after_special = true;
    size_t pos = 0;
    size_t next = 0;  // where to look for the next special token (never moves back)
    while (pos < text.size()) {
        next = std::max(next, pos);
        while (next < text.size() && special_at[next] < 0) ++next;
        const bool found = next < text.size();
        const int32_t id = found ? special_at[next] : -1;
        size_t end = next;
        if (found && (vocab_.attr[id] & kAttrLstrip)) {
            while (end > pos && is_space(text[end - 1])) --end;
        }
        if (end > pos) {
            encode_text(text.substr(pos, end - pos), after_special, out);
            after_special = false;
        }
        if (!found) break;
        out.push_back(id);
        after_special = true;
        pos = next + vocab_.text[id].size();
        if (vocab_.attr[id] & kAttrRstrip) {
            while (pos < text.size() && is_space(text[pos])) ++pos;
        }
    }

    if (add_special && vocab_.add_eos) out.push_back(vocab_.eos);
    return out;
}

void VocabTokenizer::check_id(int32_t id) const {
    if (id < 0 || id >= vocab_.size()) {
        fail(CUDA_ERROR_INVALID_PARAMETER, "token id ", id, " is outside the vocabulary of ", vocab_.size(), " tokens");
    }
}

const std::string& VocabTokenizer::token_bytes(int32_t id) const {
    check_id(id);
    return pieces_[id];
}

const std::string& VocabTokenizer::token_text(int32_t id) const {
    check_id(id);
    return vocab_.text[id];
}

std::string VocabTokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
    std::string out;
    // SentencePiece's encoder put a space before the text; take it off the
    // first piece that has text (after BOS), as SentencePiece's decoder does.
    bool strip_space = vocab_.add_space_prefix;
    for (int32_t id : ids) {
        const std::string& piece = render_special && is_control(id) ? token_text(id) : token_bytes(id);
        if (piece.empty()) continue;
        if (strip_space && piece[0] == ' ') {
            out.append(piece, 1);
        } else {
            out += piece;
        }
        strip_space = false;
    }
    return out;
}

bool VocabTokenizer::is_eog(int32_t id) const { return id >= 0 && id < vocab_.size() && vocab_.eog[id]; }

bool VocabTokenizer::is_control(int32_t id) const {
    return id >= 0 && id < vocab_.size() && (vocab_.attr[id] & kAttrControl) != 0;
}

// ---- factory -------------------------------------------------------------------

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
    const std::string model = file.get_string(kModelKey);
    if (model == "gpt2") return make_bpe_tokenizer(file, /*gemma4=*/false);
    if (model == "gemma4") return make_bpe_tokenizer(file, /*gemma4=*/true);
    if (model == "llama") return make_spm_tokenizer(file);
    fail(CUDA_ERROR_MODEL_LOAD_FAILED, "model file '", file.path(), "': metadata key '", kModelKey, "' is '", model,
         "'; supported tokenizer models are 'gpt2' (byte-level BPE), 'gemma4' (SentencePiece-style BPE) and "
         "'llama' (SentencePiece)");
}

}  // namespace worker::tokenizer
