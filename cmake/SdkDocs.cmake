# The plugin SDK's documents and examples, installed so that a plugin author needs nothing but
# the prefix:
#   share/doc/switchboard/       ABI.md, plugin-guide.md, normalized-events.md + schema, api.md,
#                                openapi.yaml
#   share/switchboard/examples/  api/ (the template plugin, plugins/api), fixtures/api/ (its
#                                sb-plugin-check fixtures), example/ (the guide's worked example)
# The documents are written for the source tree; their copies for the prefix are made at
# configure time with every repository path rewritten to the installed one, so that a link or
# a path in an installed file names an installed file (tests/sdk/installed_docs.sh checks).
set(sb_doc_dir ${CMAKE_INSTALL_DATADIR}/doc/switchboard)
set(sb_examples_dir ${CMAKE_INSTALL_DATADIR}/switchboard/examples)

# Longest first: a rewrite must not meet the result of a shorter one. (Pairs are passed one by
# one: CMake lists do not survive the brackets of Markdown links.)
macro(sb_doc_rewrite from to)
  string(REPLACE "${from}" "${to}" text "${text}")
endmacro()

set(sb_installed_docs)
foreach(doc ABI.md docs/plugin-guide.md docs/normalized-events.md docs/api.md)
  get_filename_component(name ${doc} NAME)
  file(READ ${PROJECT_SOURCE_DIR}/${doc} text)
  sb_doc_rewrite("](docs/normalized-events.schema.json" "](normalized-events.schema.json")
  sb_doc_rewrite("](docs/normalized-events.md" "](normalized-events.md")
  sb_doc_rewrite("](docs/plugin-guide.md" "](plugin-guide.md")
  sb_doc_rewrite("](../ABI.md" "](ABI.md")
  sb_doc_rewrite("`plugin-api/include/switchboard/plugin_abi.h`" "`include/switchboard/plugin_abi.h`")
  sb_doc_rewrite("`docs/normalized-events.md`" "`share/doc/switchboard/normalized-events.md`")
  sb_doc_rewrite("(`channels[].rate_limit`, defaults in `docs/reliability.md`)"
                 "(`channels[].rate_limit`; the defaults are in the source tree's docs/reliability.md)")
  sb_doc_rewrite("`tests/unit/api_plugin_test.cpp`" "the source tree's api plugin tests")
  sb_doc_rewrite("`tests/support/plugin_harness.hpp`" "the source tree's plugin test harness")
  sb_doc_rewrite("`tests/fixtures/api/`" "`share/switchboard/examples/fixtures/api/`")
  sb_doc_rewrite("`plugins/api/`" "`share/switchboard/examples/api/`")
  sb_doc_rewrite("`docs/examples/example/`" "`share/switchboard/examples/example/`")
  file(WRITE ${CMAKE_BINARY_DIR}/sdk-docs/${name} "${text}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${doc})
  list(APPEND sb_installed_docs ${CMAKE_BINARY_DIR}/sdk-docs/${name})
endforeach()
install(FILES ${sb_installed_docs} ${PROJECT_SOURCE_DIR}/docs/normalized-events.schema.json
              ${PROJECT_SOURCE_DIR}/docs/openapi.yaml
        DESTINATION ${sb_doc_dir})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/plugins/api/ DESTINATION ${sb_examples_dir}/api)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/tests/fixtures/api/ DESTINATION ${sb_examples_dir}/fixtures/api)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/examples/example/ DESTINATION ${sb_examples_dir}/example)
