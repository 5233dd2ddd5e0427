// The data hash: which policy and mapping data decided a determination.
//
// SHA-256 over the files that decide (payers.json and every policy file of the policies
// directory, every file of the mappings directory; test cases excluded), each as its name and
// content, in name order. Two servers with the same hash decide alike; a determination stores
// the hash of the data it was made with, and `cryo-crd --version` prints it.
//
//   Result<std::string> h = data_hash("policies/data", "mappings/data");  // "sha256:3f2a…"
//
// Thread safety: a pure function of the files.
#pragma once

#include <filesystem>
#include <string>

#include "base/result.h"

namespace cryo::policies {

Result<std::string> data_hash(const std::filesystem::path& policies_dir,
                              const std::filesystem::path& mappings_dir);

}  // namespace cryo::policies
