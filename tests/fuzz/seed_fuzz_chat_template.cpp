// Seeds for fuzz_chat_template: the 70 real templates of
// tests/data/chat_templates, copied into the corpus directory given.
#include <filesystem>
#include <iostream>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: seed_fuzz_chat_template CORPUS_DIR\n";
        return 2;
    }
    namespace fs = std::filesystem;
    const fs::path data = fs::path(WORKER_SOURCE_DIR) / "tests/data/chat_templates";
    fs::create_directories(argv[1]);
    for (const auto& entry : fs::directory_iterator(data)) {
        if (entry.path().extension() != ".jinja") continue;
        fs::copy_file(entry.path(), fs::path(argv[1]) / entry.path().filename(), fs::copy_options::skip_existing);
    }
    return 0;
}
