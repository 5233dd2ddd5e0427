// The identity of a loaded data set: one hash over the policy and mapping files.
//
// `cryo-crd --version` prints it, GET /metrics carries it (cryo_crd_data_info), and a stored
// determination can name the data it was made with. Two deployments with byte-identical
// policy and mapping files have the same hash, whatever their paths.
//
//   std::string h = policies::data_hash(policies_dir, mappings_dir);   // "sha256:9f2c..."
//
// The hash is SHA-256 over every regular file under both directories, in order of relative
// path, each as "<policies|mappings>/<relative path>", a NUL, its size, a NUL and its bytes.
//
// Thread safety: pure function of the file system.
#pragma once

#include <filesystem>
#include <string>

#include "base/result.h"

namespace cryo::policies {

Result<std::string> data_hash(const std::filesystem::path& policies_dir,
                              const std::filesystem::path& mappings_dir);

}  // namespace cryo::policies
