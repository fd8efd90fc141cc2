# GET /openapi.json and the /docs page (Swagger UI), embedded in the server library at build time.
#
# src/server/api_docs.cc pulls the files in with the assembler's .incbin, so nothing is generated and a
# megabyte of JavaScript costs no compile time. The compiler's dependency scan does not see .incbin, so
# the object file is made to depend on the embedded files here: editing openapi.json rebuilds it.
# Swagger UI comes from web/node_modules, which scripts/install-deps.sh fills (npm ci of web/).
#
#   medassist_server_docs(medassist_server)

# The repository root, taken from this file's place so that the function also works from a project
# that includes this file from elsewhere.
cmake_path(GET CMAKE_CURRENT_LIST_DIR PARENT_PATH MEDASSIST_DOCS_ROOT)

set(MEDASSIST_SWAGGER_UI_DIR "${MEDASSIST_DOCS_ROOT}/web/node_modules/swagger-ui-dist")

function(medassist_server_docs target)
  if(NOT IS_DIRECTORY "${MEDASSIST_SWAGGER_UI_DIR}")
    message(FATAL_ERROR "Swagger UI for /docs is missing: ${MEDASSIST_SWAGGER_UI_DIR} not found. "
                        "Run scripts/install-deps.sh (it runs npm ci in web/), then configure again.")
  endif()
  set(server_dir "${MEDASSIST_DOCS_ROOT}/src/server")
  set(source "${server_dir}/api_docs.cc")
  # Keep in step with the .incbin lines of api_docs.cc.
  set(embedded
    "${server_dir}/openapi.json"
    "${MEDASSIST_SWAGGER_UI_DIR}/swagger-ui.css"
    "${MEDASSIST_SWAGGER_UI_DIR}/swagger-ui-bundle.js"
    "${MEDASSIST_SWAGGER_UI_DIR}/favicon-32x32.png")
  foreach(file IN LISTS embedded)
    if(NOT EXISTS "${file}")
      message(FATAL_ERROR "${file} is missing (run scripts/install-deps.sh for web/node_modules)")
    endif()
  endforeach()

  target_sources(${target} PRIVATE "${source}")
  set_source_files_properties("${source}" TARGET_DIRECTORY ${target} PROPERTIES
    OBJECT_DEPENDS "${embedded}"
    COMPILE_DEFINITIONS
      "MEDASSIST_SERVER_SOURCE_DIR=\"${server_dir}\";MEDASSIST_SWAGGER_UI_DIR=\"${MEDASSIST_SWAGGER_UI_DIR}\"")
endfunction()
