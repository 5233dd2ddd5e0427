#include "policies/data_hash.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include <openssl/evp.h>

namespace cryo::policies {
namespace {

bool decides(const std::filesystem::path& p) {
  std::string n = p.filename().string();
  bool tests = n.size() > 11 && n.compare(n.size() - 11, 11, ".tests.json") == 0;
  return p.extension() == ".json" && !tests;
}

}  // namespace

Result<std::string> data_hash(const std::filesystem::path& policies_dir,
                              const std::filesystem::path& mappings_dir) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return Error{"data hash", "SHA-256 is not available"};
  }
  for (const auto& [label, dir] :
       {std::pair{"policies/", policies_dir}, {"mappings/", mappings_dir}}) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (e.is_regular_file() && decides(e.path())) files.push_back(e.path());
    }
    if (ec) return Error{dir.generic_string(), "cannot list the directory: " + ec.message()};
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      if (!in) return Error{f.generic_string(), "cannot read the file"};
      std::string name = std::string(label) + f.filename().string();
      std::string body = ss.str();
      std::string size = std::to_string(body.size());
      for (const std::string* part : {&name, &size, &body}) {
        EVP_DigestUpdate(ctx.get(), part->data(), part->size());
        EVP_DigestUpdate(ctx.get(), "\n", 1);
      }
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &n);
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace cryo::policies
