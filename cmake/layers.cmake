# One layer = one folder under src/ = one static library named medassist_<layer>.
#
# A layer sees only its own headers and those of the layers it depends on (transitively): its include
# directory is a folder of symbolic links made here, one per visible layer. Including a header of a
# layer that is not below it fails to compile, so the layering holds by construction.
#
#   medassist_add_layer(tokenizer SOURCES a.cc b.cc DEPS core formats [LIBS pcre2 ...])
set(MEDASSIST_LAYER_LINK_ROOT "${CMAKE_BINARY_DIR}/layer-includes")

function(medassist_add_layer layer)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LIBS;PRIVATE_LIBS" ${ARGN})
  set(visible ${layer})
  foreach(dep IN LISTS ARG_DEPS)
    get_property(dep_visible GLOBAL PROPERTY MEDASSIST_LAYER_VISIBLE_${dep})
    if(NOT dep_visible)
      message(FATAL_ERROR "layer ${layer}: dependency ${dep} is not defined yet (define layers bottom-up)")
    endif()
    list(APPEND visible ${dep_visible})
  endforeach()
  list(REMOVE_DUPLICATES visible)
  set_property(GLOBAL PROPERTY MEDASSIST_LAYER_VISIBLE_${layer} "${visible}")

  set(link_dir "${MEDASSIST_LAYER_LINK_ROOT}/${layer}")
  file(MAKE_DIRECTORY "${link_dir}")
  foreach(v IN LISTS visible)
    file(CREATE_LINK "${CMAKE_SOURCE_DIR}/src/${v}" "${link_dir}/${v}" SYMBOLIC)
  endforeach()

  add_library(medassist_${layer} STATIC ${ARG_SOURCES})
  add_library(medassist::${layer} ALIAS medassist_${layer})
  target_include_directories(medassist_${layer} PUBLIC "${link_dir}")
  set(dep_targets)
  foreach(dep IN LISTS ARG_DEPS)
    list(APPEND dep_targets medassist_${dep})
  endforeach()
  target_link_libraries(medassist_${layer} PUBLIC ${dep_targets} ${ARG_LIBS} PRIVATE ${ARG_PRIVATE_LIBS})
  medassist_target_warnings(medassist_${layer})
endfunction()
