#include "base/data_dir.h"

#include <string>
#include <system_error>

namespace cryo {

namespace fs = std::filesystem;

fs::path executable_path() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : p;
}

Result<fs::path> find_data_dir(std::string_view name, const fs::path& explicit_dir) {
  std::error_code ec;
  if (!explicit_dir.empty()) {
    if (fs::is_directory(explicit_dir, ec)) return explicit_dir;
    return Error{explicit_dir.string(), "is not a directory"};
  }
  const fs::path exe_dir = executable_path().parent_path();
  if (exe_dir.empty()) {
    return Error{std::string(name),
                 "data directory not found: /proc/self/exe cannot be read; "
                 "name the directory explicitly"};
  }
  const fs::path installed = exe_dir.parent_path() / "share" / "cryo-crd" / name;
  const fs::path build_tree = exe_dir / "share" / "cryo-crd" / name;
  for (const fs::path& candidate : {installed, build_tree}) {
    if (fs::is_directory(candidate, ec)) return candidate.lexically_normal();
  }
  return Error{std::string(name), "data directory not found (looked in " +
                                      installed.lexically_normal().string() + " and " +
                                      build_tree.string() + "); name it explicitly"};
}

}  // namespace cryo
