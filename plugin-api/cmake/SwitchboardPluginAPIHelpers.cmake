# Installed with the SDK and included by SwitchboardPluginAPIConfig.cmake.
#
#   switchboard_add_plugin(<id> SOURCES <file>...)
#
# Builds the channel plugin <id>.so as a MODULE library whose CMake target is named
# <id>_plugin (add your own target_* calls to that name), the way the daemon's loader expects
# it: file name = plugin id (no "lib" prefix), hidden visibility so the only exported symbol is
# sb_plugin_entry_v1 (enforced by the SDK's version script), and -Wl,--no-undefined so a
# missing symbol fails the link instead of the daemon's dlopen. It compiles as C++17 at least
# (switchboard/plugin.hpp needs it) and, when RapidJSON is found, puts it on the include path
# for switchboard/json.hpp, the SDK's hardened JSON reader.
find_package(RapidJSON QUIET)
set(_switchboard_plugin_map "${CMAKE_CURRENT_LIST_DIR}/switchboard-plugin.map")

function(switchboard_add_plugin id)
  cmake_parse_arguments(SBP "" "" "SOURCES" ${ARGN})
  if(NOT id MATCHES "^[a-z0-9_-]+$")
    message(FATAL_ERROR "switchboard_add_plugin: plugin id '${id}' must match [a-z0-9_-]{1,32}")
  endif()
  add_library(${id}_plugin MODULE ${SBP_SOURCES} ${SBP_UNPARSED_ARGUMENTS})
  set_target_properties(${id}_plugin PROPERTIES
    OUTPUT_NAME ${id}
    PREFIX ""
    SUFFIX ".so"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${id}_plugin PRIVATE switchboard::plugin_api)
  # C++17 unless the project chose a standard itself (CMAKE_CXX_STANDARD 20 is fine too).
  target_compile_features(${id}_plugin PRIVATE cxx_std_17)
  if(NOT CMAKE_CXX_STANDARD)
    set_target_properties(${id}_plugin PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  endif()
  if(RapidJSON_FOUND AND RAPIDJSON_INCLUDE_DIRS)
    target_include_directories(${id}_plugin SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIRS})
  endif()
  target_link_options(${id}_plugin PRIVATE -Wl,--no-undefined -Wl,--version-script=${_switchboard_plugin_map})
  set_property(TARGET ${id}_plugin APPEND PROPERTY LINK_DEPENDS ${_switchboard_plugin_map})
endfunction()
