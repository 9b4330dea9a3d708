#include "gguf/summary.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace worker::gguf {

namespace {

std::string quoted(const std::string& s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

std::string scalar(const Value& v) {
    switch (v.type) {
        case ValueType::UINT8:
        case ValueType::UINT16:
        case ValueType::UINT32:
        case ValueType::UINT64:
            return std::to_string(v.u);
        case ValueType::INT8:
        case ValueType::INT16:
        case ValueType::INT32:
        case ValueType::INT64:
            return std::to_string(v.i);
        case ValueType::FLOAT32:
        case ValueType::FLOAT64: {
            char buf[40];
            std::snprintf(buf, sizeof buf, v.type == ValueType::FLOAT32 ? "%.9g" : "%.17g", v.f);
            return buf;
        }
        case ValueType::BOOL:
            return v.u ? "true" : "false";
        case ValueType::STRING:
            return quoted(v.s);
        case ValueType::ARRAY:
            return format_value(v);
    }
    return "?";
}

}  // namespace

std::string format_value(const Value& value, size_t max_elements) {
    if (value.type != ValueType::ARRAY) return scalar(value);
    // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on chained operator+.
    std::string out = "[";
    out += std::to_string(value.size());
    out += " x ";
    out += value_type_name(value.element_type);
    out += ":";
    for (size_t i = 0; i < value.size() && i < max_elements; ++i) {
        out += i == 0 ? " " : ", ";
        out += format_value(value.element(i), max_elements);
    }
    if (value.size() > max_elements) out += ", ...";
    out += "]";
    return out;
}

const char* file_type_name(uint32_t file_type) {
    switch (file_type) {
        case 0:
            return "F32";
        case 1:
            return "F16";
        case 2:
            return "Q4_0";
        case 3:
            return "Q4_1";
        case 7:
            return "Q8_0";
        case 8:
            return "Q5_0";
        case 9:
            return "Q5_1";
        case 10:
            return "Q2_K";
        case 11:
            return "Q3_K_S";
        case 12:
            return "Q3_K_M";
        case 13:
            return "Q3_K_L";
        case 14:
            return "Q4_K_S";
        case 15:
            return "Q4_K_M";
        case 16:
            return "Q5_K_S";
        case 17:
            return "Q5_K_M";
        case 18:
            return "Q6_K";
        case 19:
            return "IQ2_XXS";
        case 20:
            return "IQ2_XS";
        case 21:
            return "Q2_K_S";
        case 22:
            return "IQ3_XS";
        case 23:
            return "IQ3_XXS";
        case 24:
            return "IQ1_S";
        case 25:
            return "IQ4_NL";
        case 26:
            return "IQ3_S";
        case 27:
            return "IQ3_M";
        case 28:
            return "IQ2_S";
        case 29:
            return "IQ2_M";
        case 30:
            return "IQ4_XS";
        case 31:
            return "IQ1_M";
        case 32:
            return "BF16";
        case 36:
            return "TQ1_0";
        case 37:
            return "TQ2_0";
        case 38:
            return "MXFP4_MOE";
        case 1024:
            return "guessed";
        default:
            return "unknown";
    }
}

Summary summarize(const File& file) {
    Summary s;
    // Informational: a key of an unexpected type is reported by value below
    // rather than refused, so that info works on any parseable file.
    auto string_of = [&](const char* key) {
        const Value* v = file.find(key);
        return v != nullptr && v->type == ValueType::STRING ? v->s : std::string();
    };
    auto integer_of = [&](const std::string& key) -> std::optional<uint64_t> {
        const Value* v = file.find(key);
        if (v == nullptr || !v->is_integer()) return std::nullopt;
        const bool is_signed = v->type == ValueType::INT8 || v->type == ValueType::INT16 ||
                               v->type == ValueType::INT32 || v->type == ValueType::INT64;
        if (is_signed && v->i < 0) return std::nullopt;
        return is_signed ? static_cast<uint64_t>(v->i) : v->u;
    };

    s.architecture = string_of("general.architecture");
    s.name = string_of("general.name");
    if (auto ft = integer_of("general.file_type"); ft && *ft <= UINT32_MAX) s.file_type = static_cast<uint32_t>(*ft);
    if (!s.architecture.empty()) s.context_length = integer_of(s.architecture + ".context_length");
    s.tokenizer_model = string_of("tokenizer.ggml.model");
    s.tokenizer_pre = string_of("tokenizer.ggml.pre");
    if (const Value* tokens = file.find("tokenizer.ggml.tokens"); tokens && tokens->type == ValueType::ARRAY) {
        s.vocab_size = tokens->size();
    } else if (!s.architecture.empty()) {
        s.vocab_size = integer_of(s.architecture + ".vocab_size").value_or(0);
    }

    std::map<uint32_t, TypeUsage> by_type;
    for (const TensorInfo& t : file.tensors()) {
        TypeUsage& u = by_type[static_cast<uint32_t>(t.type)];
        u.type = t.type;
        ++u.tensors;
        u.elements += t.n_elements;
        u.bytes += t.n_bytes;
        s.parameter_count += t.n_elements;
        s.tensor_bytes += t.n_bytes;
    }
    s.tensor_count = file.tensors().size();
    for (const auto& [id, usage] : by_type) s.types.push_back(usage);

    if (!s.architecture.empty()) {
        const std::string prefix = s.architecture + ".";
        for (const auto& [key, value] : file.metadata()) {  // std::map: already sorted
            if (key.compare(0, prefix.size(), prefix) == 0) s.hyper_parameters.emplace_back(key, format_value(value));
        }
    }
    return s;
}

}  // namespace worker::gguf
