#include "tests/conformance/vectors.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"

namespace pushgate::testing {

constexpr char kVectorDir[] = "tests/testdata/conversion";

std::vector<std::string> VectorFiles() {
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(kVectorDir, error)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<ConversionVector> ReadVector(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  ConversionVector vector;
  const auto status = google::protobuf::util::JsonStringToMessage(text.str(), &vector);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", status.ToString()));
  }
  return vector;
}

void ExpectVectorFilesPresent() {
  const std::vector<std::string> files = VectorFiles();
  EXPECT_GE(files.size(), 32u);
  std::vector<std::string> names;
  for (const std::string& file : files) names.push_back(std::filesystem::path(file).stem());
  EXPECT_THAT(names, ::testing::IsSupersetOf({"h1_defaults_with_instance", "h6_nan_and_inf_values",
                                              "h9_protobuf_body", "reject_truncated_protobuf"}));
}

std::string VectorTestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = std::filesystem::path(info.param).stem().string();
  for (char& c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

}  // namespace pushgate::testing
