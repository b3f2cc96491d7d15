# The module check must catch what it is for: a tree in which notifier/ includes api/, and a
# plugin that includes a daemon header, fails it naming both; the same tree without them passes.
#   cmake -DCHECK=<cmake/CheckModuleIncludes.cmake> -DWORK=<scratch dir> -P module_check_catches.cmake
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE "${WORK}")
file(WRITE "${WORK}/daemon/api/rest.hpp" "#pragma once\n#include \"notifier/notifier.hpp\"\n")
file(WRITE "${WORK}/daemon/notifier/notifier.hpp" "#pragma once\n#include \"store/store.hpp\"\n")
file(WRITE "${WORK}/daemon/store/store.hpp" "#pragma once\n#include <string>\n")
file(WRITE "${WORK}/plugins/chat/chat.cpp" "#include \"switchboard/plugin.hpp\"\n#include \"chat.hpp\"\n")
set(graph "api=notifier,store|notifier=store|store=")

execute_process(COMMAND ${CMAKE_COMMAND} -DSB_ROOT=${WORK} "-DSB_MODULE_GRAPH=${graph}" -P ${CHECK}
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "a clean tree failed the check:\n${err}")
endif()

file(APPEND "${WORK}/daemon/notifier/notifier.hpp" "#include \"api/rest.hpp\"\n")
file(APPEND "${WORK}/plugins/chat/chat.cpp" "#include \"store/store.hpp\"\n")
execute_process(COMMAND ${CMAKE_COMMAND} -DSB_ROOT=${WORK} "-DSB_MODULE_GRAPH=${graph}" -P ${CHECK}
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "notifier/ including api/ passed the check")
endif()
foreach(expected
        "daemon/notifier/notifier.hpp: includes \"api/rest.hpp\", but module notifier does not use api"
        "plugins/chat/chat.cpp: includes \"store/store.hpp\": plugins may include only the SDK")
  string(FIND "${err}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the check did not say \"${expected}\"; it said:\n${err}")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK}")
