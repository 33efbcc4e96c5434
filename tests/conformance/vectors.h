// Loading the conformance vectors of tests/testdata/conversion (schema: the README there),
// shared by the in-process and the through-the-services runners.
#ifndef PUSHGATE_TESTS_CONFORMANCE_VECTORS_H_
#define PUSHGATE_TESTS_CONFORMANCE_VECTORS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "tests/conformance/conversion_vector.pb.h"

namespace pushgate::testing {

// The vector files, sorted, as paths relative to the test's working directory (a Bazel test
// runs in its runfiles tree, where the `vectors` data dependency puts them).
std::vector<std::string> VectorFiles();

// Reads one vector file.
absl::StatusOr<ConversionVector> ReadVector(const std::string& path);

// Expects the vector files to be there (at least the 32 shipped, the ones named below), so a
// lost data dependency fails instead of leaving a parameterized test with nothing to run.
void ExpectVectorFilesPresent();

// A gtest parameter name for a vector file: its stem with non-alphanumerics as '_'.
std::string VectorTestName(const ::testing::TestParamInfo<std::string>& info);

}  // namespace pushgate::testing

#endif  // PUSHGATE_TESTS_CONFORMANCE_VECTORS_H_
