// Runs one fuzz target (linked beside this file) over every file of its checked-in corpus,
// tools/fuzz_corpus/<PG_FUZZ_TARGET>/. A broken invariant aborts with its message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

#define PG_STRINGIFY_INNER(x) #x
#define PG_STRINGIFY(x) PG_STRINGIFY_INNER(x)

std::filesystem::path CorpusDir() {
  const char* runfiles = std::getenv("TEST_SRCDIR");
  const std::filesystem::path base = runfiles != nullptr ? runfiles : ".";
  return base / "pushgate" / "tools" / "fuzz_corpus" / PG_STRINGIFY(PG_FUZZ_TARGET);
}

TEST(CorpusReplayTest, EveryInputPassesTheTarget) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(CorpusDir())) {
    files.push_back(entry.path());
  }
  // Every target's corpus covers its format's main paths with more than a handful of inputs.
  ASSERT_GE(files.size(), 5u) << CorpusDir();
  for (const std::filesystem::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    ASSERT_TRUE(in) << file;
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Named before the run: a broken invariant aborts the whole test.
    std::fprintf(stderr, "replaying %s\n", file.filename().c_str());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  }
}

}  // namespace
