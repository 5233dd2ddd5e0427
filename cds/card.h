// One CDS Hooks card as the clinician's EHR receives it, built before it is written: every card
// this service sends (coverage, instructions, DTR launch, policy reference) is a Card, and one
// writer (response_writer.cc) streams them all.
#pragma once

#include <string>
#include <vector>

namespace cryo::cds {

struct CardSource {
  std::string label;  // the payer's name
  std::string system;
  std::string code;
  std::string display;
};

struct CardLink {
  std::string label;
  std::string url;
  std::string type;         // "absolute" or "smart"
  std::string app_context;  // smart links only; "" = none
};

struct Card {
  std::string uuid;
  std::string summary;
  std::string detail;
  std::string indicator;
  CardSource source;
  std::vector<CardLink> links;          // none: no `links` member
  std::vector<std::string> associated;  // davinci-crd.associated-resource references
};

}  // namespace cryo::cds
