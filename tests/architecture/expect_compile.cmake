# Builds probe targets of the boundary check and compares each result with what is expected:
#   cmake -DBUILD_DIR=<build> -DCONFIG=<config> -DPROBES=<target>=<fails|compiles>=<header>,...
#         -P expect_compile.cmake
# A probe expected to fail must fail on its header not being found (any other error, say a
# syntax error in the probe, does not prove the boundary).
set(failures 0)
string(REPLACE "," ";" probes "${PROBES}")
foreach(probe IN LISTS probes)
  string(REPLACE "=" ";" fields "${probe}")
  list(GET fields 0 target)
  list(GET fields 1 expected)
  list(GET fields 2 header)
  execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --config "${CONFIG}"
                          --target "${target}"
                  RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
  string(REGEX MATCH "${header}['\":]* (No such file or directory|file not found)" missing
         "${output}")
  if(expected STREQUAL "fails" AND status EQUAL 0)
    message(SEND_ERROR "${target}: compiled, but its module must not reach ${header}")
    math(EXPR failures "${failures} + 1")
  elseif(expected STREQUAL "fails" AND NOT missing)
    message(SEND_ERROR "${target}: failed, but not on ${header} missing:\n${output}")
    math(EXPR failures "${failures} + 1")
  elseif(expected STREQUAL "compiles" AND NOT status EQUAL 0)
    message(SEND_ERROR "${target}: ${header} must compile here:\n${output}")
    math(EXPR failures "${failures} + 1")
  else()
    message(STATUS "${target}: ${header} ${expected}, as it must")
  endif()
endforeach()
if(failures)
  message(FATAL_ERROR "${failures} include boundaries do not hold")
endif()
