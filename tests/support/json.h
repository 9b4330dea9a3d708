// A small JSON reader for test data written by the scripts in scripts/oracle/
// (objects, arrays, strings, numbers, true/false/null; UTF-8 input).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace worker::test {

class Json {
public:
    enum class Kind { Null, Bool, Number, String, Array, Object };

    // Throws std::runtime_error with the offset of the first syntax error.
    static Json parse(const std::string& text);
    static Json parse_file(const std::string& path);

    Kind kind() const { return kind_; }
    bool is_object() const { return kind_ == Kind::Object; }
    bool is_string() const { return kind_ == Kind::String; }

    // Accessors throw std::runtime_error on a kind mismatch or missing key.
    bool as_bool() const;
    double as_number() const;
    uint64_t as_u64() const;  // exact for integers written without a fraction
    int64_t as_i64() const;
    const std::string& as_string() const;
    const std::vector<Json>& items() const;                // array
    const std::map<std::string, Json>& members() const;    // object
    const Json& operator[](const std::string& key) const;  // object member
    bool contains(const std::string& key) const;

private:
    friend class JsonParser;
    Kind kind_ = Kind::Null;
    bool bool_ = false;
    double number_ = 0;
    std::string text_;  // String value, or a Number's literal for exact integers
    std::vector<Json> items_;
    std::map<std::string, Json> members_;
};

}  // namespace worker::test
