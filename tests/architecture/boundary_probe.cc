// One translation unit that includes one header, CRYO_PROBE_HEADER: the boundary check builds
// it with the include paths of a given module and expects the include to fail or to compile.
#include CRYO_PROBE_HEADER
