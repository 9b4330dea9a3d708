// main() of every GoogleTest executable: the tests of one fixture run in
// parallel processes under ctest, so each process gets its own temporary
// directory (testing::TempDir() reads TEST_TMPDIR), removed at the end.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

int main(int argc, char** argv) {
    std::string dir;
    if (std::getenv("TEST_TMPDIR") == nullptr) {
        char pattern[] = "/tmp/worker-test-XXXXXX";
        if (::mkdtemp(pattern) != nullptr) {
            dir = pattern;
            ::setenv("TEST_TMPDIR", (dir + "/").c_str(), 1);
        }
    }
    ::testing::InitGoogleTest(&argc, argv);
    const int result = RUN_ALL_TESTS();
    if (!dir.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
    return result;
}
