// The discovery step: GET /cds-services, its document checked and its services kept for
// the other steps.

#include <algorithm>

#include <rapidjson/document.h>

#include "conformance/json_access.h"
#include "conformance/runner_steps.h"
#include "conformance/validate.h"

namespace cryo::conformance::detail {

void Runner::discovery() {
  HttpAnswer a = get_json("/cds-services");
  ExchangeScope scope(*this, a);
  if (a.status != 200) {
    add("discovery", "discovery: GET /cds-services answers 200", false,
        a.status < 0 ? "no answer: " + a.error : "status " + std::to_string(a.status));
    return;
  }
  add("discovery", "discovery: GET /cds-services answers 200", true, "");
  Document doc;
  doc.Parse(a.body.c_str());
  if (doc.HasParseError() || !doc.IsObject()) {
    add("discovery", "discovery: services document", false, "body is not a JSON object");
    return;
  }
  Problems problems;
  validate_discovery(doc, problems);
  add("discovery", "discovery: services document", problems);
  if (const Json* services = get(doc, "services"); services && services->IsArray()) {
    for (auto& s : services->GetArray()) {
      Service svc;
      svc.id = str(get(s, "id"));
      svc.hook = str(get(s, "hook"));
      if (const Json* p = get(s, "prefetch"); p && p->IsObject())
        for (auto& m : p->GetObject())
          if (m.value.IsString()) svc.prefetch[m.name.GetString()] = m.value.GetString();
      if (const Json* e = get(s, "extension"))
        if (const Json* opts = get(*e, "davinci-crd.configuration-options");
            opts && opts->IsArray())
          for (auto& o : opts->GetArray())
            svc.options.push_back({str(get(o, "code")), str(get(o, "type"))});
      if (!svc.id.empty() && !svc.hook.empty()) services_.push_back(std::move(svc));
    }
  }
  bool has_order_sign = std::any_of(services_.begin(), services_.end(),
                                    [](const Service& s) { return s.hook == "order-sign"; });
  add("discovery", "discovery: an order-sign service is offered (CRD primary hook)", has_order_sign,
      has_order_sign ? "" : "no service with hook order-sign");
}

const Service* Runner::service_for(const std::string& hook, const std::string& id) const {
  for (auto& s : services_)
    if (s.hook == hook && (id.empty() || s.id == id)) return &s;
  return nullptr;
}

}  // namespace cryo::conformance::detail
