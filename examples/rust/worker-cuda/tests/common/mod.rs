//! Where the tests find the real model fetched by scripts/fetch-models.sh.

use std::env;
use std::path::PathBuf;

/// The SmolLM2-135M-Instruct model in the model cache (`$WORKER_MODEL_CACHE`,
/// else `~/.cache/worker_cuda/models`). `None` (the test is skipped, which
/// it says on stderr) when it is missing, unless `WORKER_TEST_REQUIRE_MODELS=1`
/// as in CI, which makes a missing model a failure.
pub fn smollm2() -> Option<PathBuf> {
    let cache = env::var_os("WORKER_MODEL_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/worker_cuda/models"))
        })
        .expect("neither WORKER_MODEL_CACHE nor HOME is set");
    let path = cache.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    if path.is_file() {
        return Some(path);
    }
    assert_ne!(
        env::var("WORKER_TEST_REQUIRE_MODELS").as_deref(),
        Ok("1"),
        "{} is missing (run scripts/fetch-models.sh)",
        path.display()
    );
    eprintln!(
        "skipped: {} not fetched (run scripts/fetch-models.sh)",
        path.display()
    );
    None
}

/// A JSON value, as the minimal reader below gives it (enough for the test
/// data files of this repository; no crate for JSON is available offline).
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

#[allow(dead_code)]
impl Json {
    /// Parses a whole JSON document; panics on malformed input.
    pub fn parse(text: &str) -> Json {
        let mut reader = JsonReader {
            chars: text.chars().collect(),
            at: 0,
        };
        let value = reader.value();
        reader.skip_space();
        assert_eq!(reader.at, reader.chars.len(), "trailing text after the JSON value");
        value
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

struct JsonReader {
    chars: Vec<char>,
    at: usize,
}

impl JsonReader {
    fn skip_space(&mut self) {
        while self.at < self.chars.len() && self.chars[self.at].is_whitespace() {
            self.at += 1;
        }
    }

    fn next(&mut self) -> char {
        let c = *self.chars.get(self.at).expect("JSON ends early");
        self.at += 1;
        c
    }

    fn expect_word(&mut self, word: &str) {
        for expected in word.chars() {
            assert_eq!(self.next(), expected, "bad JSON literal");
        }
    }

    fn value(&mut self) -> Json {
        self.skip_space();
        match self.chars[self.at] {
            '{' => {
                self.at += 1;
                let mut members = Vec::new();
                loop {
                    self.skip_space();
                    if self.chars[self.at] == '}' {
                        self.at += 1;
                        return Json::Object(members);
                    }
                    if !members.is_empty() {
                        assert_eq!(self.next(), ',');
                        self.skip_space();
                    }
                    assert_eq!(self.next(), '"');
                    let key = self.string_body();
                    self.skip_space();
                    assert_eq!(self.next(), ':');
                    members.push((key, self.value()));
                }
            }
            '[' => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    if self.chars[self.at] == ']' {
                        self.at += 1;
                        return Json::Array(items);
                    }
                    if !items.is_empty() {
                        assert_eq!(self.next(), ',');
                    }
                    items.push(self.value());
                }
            }
            '"' => {
                self.at += 1;
                Json::String(self.string_body())
            }
            't' => {
                self.expect_word("true");
                Json::Bool(true)
            }
            'f' => {
                self.expect_word("false");
                Json::Bool(false)
            }
            'n' => {
                self.expect_word("null");
                Json::Null
            }
            _ => {
                let start = self.at;
                while self.at < self.chars.len() && "+-0123456789.eE".contains(self.chars[self.at]) {
                    self.at += 1;
                }
                let number: String = self.chars[start..self.at].iter().collect();
                Json::Number(number.parse().expect("a JSON number"))
            }
        }
    }

    fn hex4(&mut self) -> u32 {
        let digits: String = (0..4).map(|_| self.next()).collect();
        u32::from_str_radix(&digits, 16).expect("four hex digits")
    }

    /// The rest of a string whose opening quote was read.
    fn string_body(&mut self) -> String {
        let mut out = String::new();
        loop {
            match self.next() {
                '"' => return out,
                '\\' => match self.next() {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let mut code = self.hex4();
                        if (0xD800..0xDC00).contains(&code) {
                            assert_eq!((self.next(), self.next()), ('\\', 'u'), "a lone surrogate");
                            let low = self.hex4();
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        }
                        out.push(char::from_u32(code).expect("a valid code point"));
                    }
                    other => out.push(other), // \" \\ \/
                },
                c => out.push(c),
            }
        }
    }
}
