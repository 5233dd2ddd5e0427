// The /demo try-it page: an EHR-style screen listing the golden scenarios, where one changes a
// fact or the order code, signs the order against this very service (a real CDS Hooks call
// from the browser) and sees the cards as the CDS Hooks sandbox shows them, the
// coverage-information and the timing.
//
// Routes (GET, no credentials, nothing stored):
//   /demo                    the page (demo/index.html)
//   /demo/<file>             its CSS and JavaScript (the files of the demo directory)
//   /demo/scenarios          [{"name", "description", "hook", "expected"}] of every scenario
//   /demo/scenarios/<name>   one scenario file as it is
// Files are read once, at start-up, from the installed data (demo/ and
// conformance/scenarios/, found like the policies).
//
// Whether it is on: by default only when the service is bound to loopback and accepts
// unsigned calls; `"demo": {"enabled": true}` turns it on elsewhere. The page is only a CDS
// client: where the service requires signed calls the person trying it pastes a JWT their
// trusted CDS client made, and the service checks it like any other call.
//
// Thread safety: the handlers only read what was loaded.
#pragma once

#include <filesystem>

#include "base/result.h"
#include "cds/http_server.h"

namespace cryo::cds {

Status add_demo_routes(HttpServer& server, const std::filesystem::path& demo_dir,
                       const std::filesystem::path& scenarios_dir);

}  // namespace cryo::cds
