// crd-conformance: the CRD conformance runner as a standalone program (see runner.h).
#include "conformance/runner.h"

int main(int argc, char** argv) {
  return cryo::conformance::run_conformance(argc, argv);
}
