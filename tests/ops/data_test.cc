#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/data_dir.h"
#include "policies/data_hash.h"

namespace cryo {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

TEST(DataHash, ChangesWithAnyByteAndNotWithTheLocation) {
  fs::path a = fresh_dir("cryo-hash-a");
  fs::create_directories(a / "p");
  fs::create_directories(a / "m" / "sub");
  std::ofstream(a / "p" / "x.json") << "{\"v\":1}";
  std::ofstream(a / "m" / "sub" / "y.json") << "{}";
  auto h1 = policies::data_hash(a / "p", a / "m");
  ASSERT_TRUE(h1) << h1.error().to_string();
  EXPECT_EQ(h1->rfind("sha256:", 0), 0u);
  EXPECT_EQ(h1->size(), 7u + 64u);

  fs::path b = fresh_dir("cryo-hash-b");
  fs::copy(a, b, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  EXPECT_EQ(*policies::data_hash(b / "p", b / "m"), *h1);

  std::ofstream(b / "p" / "x.json") << "{\"v\":2}";
  EXPECT_NE(*policies::data_hash(b / "p", b / "m"), *h1);
  // A file moved between the two directories is a different data set.
  fs::path c = fresh_dir("cryo-hash-c");
  fs::copy(a, c, fs::copy_options::recursive);
  fs::rename(c / "m" / "sub" / "y.json", c / "p" / "y.json");
  EXPECT_NE(*policies::data_hash(c / "p", c / "m"), *h1);
  for (const auto& d : {a, b, c}) fs::remove_all(d);
}

TEST(DataDir, ExplicitDirectoryMustExist) {
  auto missing = find_data_dir("policies", "/nonexistent/policies");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().to_string().find("/nonexistent/policies"), std::string::npos);
  fs::path d = fresh_dir("cryo-datadir");
  auto found = find_data_dir("policies", d);
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, d);
  fs::remove_all(d);
}

TEST(DataDir, UnknownNameNamesThePlacesLookedAt) {
  auto r = find_data_dir("no-such-data-directory");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("share/cryo-crd/no-such-data-directory"), std::string::npos)
      << r.error().to_string();
}

}  // namespace
}  // namespace cryo
