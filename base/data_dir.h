// Where the bundled data directories are: policies, mappings, conformance scenarios, and any
// other directory a module ships (`cryo_data_dir()` in the top-level CMakeLists.txt declares
// one: it is installed to share/cryo-crd/<name> and linked into the build tree).
//
// A data directory is found, in this order:
//   1. an explicit directory (a command-line option, or the configuration file — the caller
//      resolves relative paths by the one rule: relative to the configuration file in a file,
//      relative to the working directory on the command line);
//   2. the installed data directory, <dir of the executable>/../share/cryo-crd/<name>
//      (/usr/share/cryo-crd/<name> for /usr/bin/cryo-crd);
//   3. the build tree, <dir of the executable>/share/cryo-crd/<name>.
// No path of the machine the program was built on is ever compiled in.
//
//   auto policies = cryo::find_data_dir("policies", option_or_config_value);
//   if (!policies) { std::cerr << policies.error().to_string(); }
//
// Thread safety: pure functions of the file system.
#pragma once

#include <filesystem>
#include <string_view>

#include "base/result.h"

namespace cryo {

// The running program's own path (/proc/self/exe); empty when it cannot be read.
std::filesystem::path executable_path();

// The data directory `name` ("policies", "mappings", "scenarios", ...). `explicit_dir`, when
// not empty, is used as given and must exist. The Error lists every place looked at.
Result<std::filesystem::path> find_data_dir(std::string_view name,
                                            const std::filesystem::path& explicit_dir = {});

}  // namespace cryo
