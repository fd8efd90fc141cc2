# Warnings for the project's own targets only (third-party headers come in as SYSTEM).
set(MEDASSIST_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wimplicit-fallthrough)
if(MEDASSIST_WERROR)
  list(APPEND MEDASSIST_WARNING_FLAGS -Werror)
endif()

if(MEDASSIST_SANITIZE)
  set(MEDASSIST_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer)
  add_compile_options(${MEDASSIST_SANITIZER_FLAGS})
  add_link_options(${MEDASSIST_SANITIZER_FLAGS})
endif()

if(MEDASSIST_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MEDASSIST_FUZZ needs clang (libFuzzer); use the debug preset")
  endif()
  # Coverage instrumentation for the code under test; the fuzz executables add -fsanitize=fuzzer.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

function(medassist_target_warnings target)
  target_compile_options(${target} PRIVATE ${MEDASSIST_WARNING_FLAGS})
endfunction()
