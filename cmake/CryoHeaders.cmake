# Include boundaries: a module's headers are reachable only through its library.
#
# Every header is included by its path from the source root (#include "fhir/json.h"), but no
# target has the source root on its include path. Each library gets instead, at configure time,
# a tree of symbolic links in the build directory holding only its public headers,
#   <build>/include/<target>/<dir>/<header>.h -> <source>/<dir>/<header>.h
# as its PUBLIC include directory: a target sees a module's public headers only if it links the
# module's library, directly or through a library whose public headers include them. A module's
# private headers (those in its subdirectories: detail/, testing/, ...; and the top-level ones
# named INTERNAL) go into a second tree,
#   <build>/include-private/<dir>/<dir>/...
# which only the targets of the module's own CMakeLists.txt get (PRIVATE), and the tests that
# ask for it by name (cryo_private_headers). Headers are found by glob with CONFIGURE_DEPENDS:
# a header added or removed re-runs the configuration at the next build; nothing is listed.

# cryo_headers(<target> [DIRECTORY <dir>] [HEADERS <h>...] [EXCLUDE <h>...] [INTERNAL <h>...])
#   DIRECTORY  the module's directory (default: the current source directory); the include
#              prefix is its path from the source root ("fhir/client" for fhir/client/)
#   HEADERS    only these top-level headers are the target's (a directory with several libraries)
#   EXCLUDE    top-level headers that belong to another library of the same directory
#   INTERNAL   top-level headers only the module's own sources include (private)
# Subdirectories with a CMakeLists.txt of their own are other modules and are left out.
function(cryo_headers target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "DIRECTORY" "HEADERS;EXCLUDE;INTERNAL")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "cryo_headers(${target}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  set(dir "${CMAKE_CURRENT_SOURCE_DIR}")
  if(arg_DIRECTORY)
    get_filename_component(dir "${arg_DIRECTORY}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  endif()
  file(RELATIVE_PATH prefix "${CMAKE_SOURCE_DIR}" "${dir}")

  # Public: the top-level headers of the directory (or those named), minus the others.
  if(arg_HEADERS)
    set(public ${arg_HEADERS})
  else()
    file(GLOB public CONFIGURE_DEPENDS RELATIVE "${dir}" "${dir}/*.h")
  endif()
  foreach(header IN LISTS arg_EXCLUDE arg_INTERNAL)
    list(REMOVE_ITEM public "${header}")
  endforeach()
  set(public_root "${CMAKE_BINARY_DIR}/include/${target}")
  _cryo_link_headers("${public_root}" "${dir}" "${prefix}" ${public})

  # Private: every header in a subdirectory that is not a module of its own, and INTERNAL.
  file(GLOB_RECURSE nested CONFIGURE_DEPENDS RELATIVE "${dir}" "${dir}/*.h")
  file(GLOB_RECURSE modules CONFIGURE_DEPENDS RELATIVE "${dir}" "${dir}/*/CMakeLists.txt")
  list(FILTER nested INCLUDE REGEX "/")
  foreach(module IN LISTS modules)
    get_filename_component(module "${module}" DIRECTORY)
    list(FILTER nested EXCLUDE REGEX "^${module}/")
  endforeach()
  _cryo_private_root(private_root "${prefix}")
  get_property(started GLOBAL PROPERTY "cryo_private_tree:${prefix}")
  if(NOT started)
    file(REMOVE_RECURSE "${private_root}")
    file(MAKE_DIRECTORY "${private_root}")
    set_property(GLOBAL PROPERTY "cryo_private_tree:${prefix}" TRUE)
  endif()
  foreach(header IN LISTS nested arg_INTERNAL)
    get_filename_component(sub "${private_root}/${prefix}/${header}" DIRECTORY)
    file(MAKE_DIRECTORY "${sub}")
    file(CREATE_LINK "${dir}/${header}" "${private_root}/${prefix}/${header}" SYMBOLIC)
  endforeach()

  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    target_include_directories(${target} PRIVATE "${public_root}")
  else()
    target_include_directories(${target} PUBLIC "${public_root}")
  endif()
  target_include_directories(${target} PRIVATE "${private_root}")
endfunction()

# cryo_private_headers(<target> <dir>...): the private headers of the modules in <dir>... (paths
# from the source root, e.g. mappings) for a target outside them: a module's own targets without
# a library of their own (its executables, its tests) and the tests that check its internals.
function(cryo_private_headers target)
  foreach(dir IN LISTS ARGN)
    _cryo_private_root(root "${dir}")
    target_include_directories(${target} PRIVATE "${root}")
  endforeach()
endfunction()

function(_cryo_private_root out prefix)
  string(REPLACE "/" "_" name "${prefix}")
  set(${out} "${CMAKE_BINARY_DIR}/include-private/${name}" PARENT_SCOPE)
endfunction()

function(_cryo_link_headers root dir prefix)
  file(REMOVE_RECURSE "${root}")
  file(MAKE_DIRECTORY "${root}/${prefix}")
  foreach(header IN LISTS ARGN)
    if(NOT EXISTS "${dir}/${header}")
      message(FATAL_ERROR "cryo_headers: ${prefix}/${header} does not exist")
    endif()
    file(CREATE_LINK "${dir}/${header}" "${root}/${prefix}/${header}" SYMBOLIC)
  endforeach()
endfunction()
