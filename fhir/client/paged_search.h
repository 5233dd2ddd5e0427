// Internal to fhir/client: one prefetch query or read, following a search's next-page links
// on the same FHIR server, into one FetchResult.
//
// Thread safety: run_task() runs on a call's worker threads, each on its own result.
#pragma once

#include <string>
#include <string_view>

#include "fhir/client/connection_pool.h"
#include "fhir/client/prefetch_fetcher.h"
#include "fhir/client/url.h"

namespace cryo::fhir::client::detail {

struct Task {
  std::string target;         // request target: "/fhir/Coverage?patient=123"
  std::string expected_type;  // for reads: the resource type asked for
};

// Runs `task` (every page of a search, or one read) into `result`, within the call's budget.
void run_task(const Task& task, FetchResult& result, const BaseUrl& base, ConnectionPool& pool,
              std::string_view token, const FetchOptions& options, CallState& state);

}  // namespace cryo::fhir::client::detail
