"""Shared helpers for the llama.cpp oracle scripts (llama-cpp-python low-level API).

Everything here only *reads* what llama.cpp produces; nothing from worker_cuda is used.
"""

import ctypes
import hashlib
import os
import platform
import re

import llama_cpp

# The llama.cpp commit that llama-cpp-python vendors, from its CHANGELOG.
# Only used when the wheel does not tell us itself.
LLAMA_CPP_COMMIT_BY_WRAPPER = {
    "0.3.36": "0c1e57098",
}

DEFAULT_MODEL_DIR = os.path.expanduser("~/.cache/worker_cuda/models")


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions():
    info = {
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_commit": LLAMA_CPP_COMMIT_BY_WRAPPER.get(llama_cpp.__version__, "unknown"),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    try:
        info["llama_system_info"] = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    except Exception:  # pragma: no cover - informational only
        pass
    return info


def _silence_logs():
    # Keep llama.cpp's load chatter off stderr.
    @llama_cpp.llama_log_callback
    def _cb(level, text, user_data):
        return None

    llama_cpp.llama_log_set(_cb, ctypes.c_void_p(0))
    return _cb


_LOG_CB = None


def init_backend():
    global _LOG_CB
    llama_cpp.llama_backend_init()
    if os.environ.get("ORACLE_VERBOSE") != "1":
        _LOG_CB = _silence_logs()


class Vocab:
    """A GGUF file loaded with vocab_only=True through the C API."""

    def __init__(self, path):
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        self.model = llama_cpp.llama_model_load_from_file(path.encode("utf-8"), params)
        if not self.model:
            raise RuntimeError(f"llama.cpp refused to load {path}")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)

    def close(self):
        if self.model:
            llama_cpp.llama_model_free(self.model)
            self.model = None

    def meta(self, key):
        buf = ctypes.create_string_buffer(4096)
        n = llama_cpp.llama_model_meta_val_str(self.model, key.encode("utf-8"), buf, len(buf))
        if n < 0:
            return None
        return buf.value.decode("utf-8", "replace")

    def n_tokens(self):
        return llama_cpp.llama_vocab_n_tokens(self.vocab)

    def vocab_type(self):
        return llama_cpp.llama_vocab_type(self.vocab)

    def add_bos(self):
        return bool(llama_cpp.llama_vocab_get_add_bos(self.vocab))

    def tokenize(self, text_bytes, add_special, parse_special):
        n_max = len(text_bytes) + 16
        buf = (llama_cpp.llama_token * n_max)()
        n = llama_cpp.llama_tokenize(self.vocab, text_bytes, len(text_bytes), buf, n_max, add_special, parse_special)
        if n < 0:
            n_max = -n
            buf = (llama_cpp.llama_token * n_max)()
            n = llama_cpp.llama_tokenize(self.vocab, text_bytes, len(text_bytes), buf, n_max, add_special, parse_special)
            if n < 0:
                raise RuntimeError(f"tokenize failed: {n}")
        return list(buf[:n])

    def detokenize(self, ids, remove_special, unparse_special):
        """llama.cpp's own llama_detokenize (not the Python-side piece concatenation)."""
        arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
        cap = 64 + 64 * len(ids)
        out = ctypes.create_string_buffer(cap)
        n = llama_cpp.llama_detokenize(self.vocab, arr, len(ids), out, cap, remove_special, unparse_special)
        if n < 0:
            cap = -n + 1
            out = ctypes.create_string_buffer(cap)
            n = llama_cpp.llama_detokenize(self.vocab, arr, len(ids), out, cap, remove_special, unparse_special)
            if n < 0:
                raise RuntimeError(f"detokenize failed: {n}")
        return out.raw[:n]

    def piece(self, token, special=True):
        cap = 256
        buf = ctypes.create_string_buffer(cap)
        n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, cap, 0, special)
        if n < 0:
            cap = -n
            buf = ctypes.create_string_buffer(cap)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, cap, 0, special)
        return buf.raw[:n]

    def is_eog(self, token):
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))


def model_key(path):
    base = os.path.basename(path)
    base = re.sub(r"\.gguf$", "", base)
    return base
