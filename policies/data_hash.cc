#include "policies/data_hash.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include <openssl/evp.h>

namespace cryo::policies {

namespace fs = std::filesystem;

Result<std::string> data_hash(const fs::path& policies_dir, const fs::path& mappings_dir) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return Error{"data hash", "SHA-256 is unavailable"};
  for (const auto& [label, dir] :
       {std::pair<const char*, const fs::path&>{"policies", policies_dir},
        {"mappings", mappings_dir}}) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file()) files.push_back(fs::relative(it->path(), dir));
    }
    if (ec) return Error{dir.string(), "cannot be read: " + ec.message()};
    std::sort(files.begin(), files.end());
    for (const fs::path& rel : files) {
      std::ifstream in(dir / rel, std::ios::binary);
      if (!in) return Error{(dir / rel).string(), "cannot be read"};
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::string head = std::string(label) + "/" + rel.generic_string();
      head.push_back('\0');
      head += std::to_string(bytes.size());
      head.push_back('\0');
      EVP_DigestUpdate(ctx.get(), head.data(), head.size());
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size());
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1)
    return Error{"data hash", "SHA-256 failed"};
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

}  // namespace cryo::policies
