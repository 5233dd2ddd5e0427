// A small CDS Hooks / CRD server for testing the conformance runner: by default it answers
// like a conforming CRD server (every draft order covered, no-auth); each Defect makes it
// break exactly one rule, so a test can check the runner reports that rule.
//
//   BrokenServer server(Defect::kLongSummary);
//   Options o; o.base_url = server.url();
//   Report r = run(o, nullptr);   // r.failures("cards", "must be < 140") is not empty
//
// Thread safety: the server answers on its own threads; construct and destroy on one thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <httplib.h>

#include "base/thread_annotations.h"
#include "conformance/signer.h"

namespace cryo::conformance::testing {

enum class Defect {
  kNone,
  kLongSummary,            // a card summary of 150 characters
  kSuggestionWithoutUuid,  // a suggestion without uuid
  kCoverageInfoWithoutAssertionId,
  kNotCoveredWithPaNeeded,        // covered=not-covered together with pa-needed (q2)
  kConditionalWithoutInfoNeeded,  // covered=conditional, no info-needed (q3)
  kActionWithoutDescription,      // system action without description
  kAcceptsBadJson,                // 200 on a body that is not JSON
  kPlainTextErrors,               // 4xx bodies are plain text, not OperationOutcome
  kUnknownServiceAnswers200,
  kNo412WithoutPrefetch,  // answers 200 when it can get no data
  kDropsDraftElement,     // the updated order loses authoredOn
  kAddsElementToOrder,    // the updated order gains a note
  kBadIndicator,          // indicator "hard-stop"
  kRelativeLink,          // link url "/portal"
  kAppContextOnAbsoluteLink,
  kMissingSourceTopic,
  kNoSelectionBehavior,
  kIgnoresConfiguration,  // cards of a type switched off still come back; max-cards ignored
  kTwoAssertionIdsForOneCoverage,
  kWrongDecision,           // answers not-covered where covered is expected
  kBadPrefetchTemplate,     // discovery template with a FHIRPath token
  kBadConfigurationOption,  // discovery option without default and with type "string"
  kAcceptsAnyToken,         // no 401 for missing, expired or forged JWTs
  kMissingCards,            // response without `cards`
  kFollowsAnyJku,           // fetches the JWT's jku and accepts what the set there verifies
};

class BrokenServer {
 public:
  // `verifier`, when given, is used to check JWTs (and 401 otherwise).
  explicit BrokenServer(Defect defect, std::shared_ptr<RequestSigner> verifier = nullptr);
  ~BrokenServer();
  std::string url() const;
  // TCP connections accepted so far.
  int connections() const { return connections_.load(); }
  // The Authorization header of the first call that had one.
  std::string first_authorization() const;

 private:
  void handle_post(const httplib::Request& req, httplib::Response& res);
  bool authorised(const httplib::Request& req) const;

  Defect defect_;
  std::shared_ptr<RequestSigner> verifier_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> connections_{0};
  mutable Mutex mu_;
  mutable std::string first_authorization_ GUARDED_BY(mu_);
};

}  // namespace cryo::conformance::testing
