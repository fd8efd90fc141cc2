// The shipped rules file, embedded at build time so that an installed binary needs no asset
// folder. The assembler's .incbin copies the file into .rodata between two labels, followed by a
// NUL byte that is not part of the text. src/assistant/CMakeLists.txt gives the path and makes
// this object depend on the file (the compiler's dependency scan cannot see .incbin). ELF only.
#include <cstddef>
#include <string_view>

#include "assistant/safety_rules.h"

#if !defined(MEDASSIST_SAFETY_RULES_FILE)
#error "MEDASSIST_SAFETY_RULES_FILE must name assets/safety/red_flags.json (see CMakeLists.txt)"
#endif

// clang-format off
asm(".pushsection .rodata\n"
    ".balign 16\n"
    ".global medassist_safety_rules_begin\n"
    ".global medassist_safety_rules_end\n"
    ".hidden medassist_safety_rules_begin\n"
    ".hidden medassist_safety_rules_end\n"
    "medassist_safety_rules_begin:\n"
    ".incbin \"" MEDASSIST_SAFETY_RULES_FILE "\"\n"
    "medassist_safety_rules_end:\n"
    ".byte 0\n"
    ".popsection\n");
// clang-format on
extern "C" const char medassist_safety_rules_begin[];
extern "C" const char medassist_safety_rules_end[];

namespace medassist::assistant {

std::string_view DefaultSafetyRulesJson() {
  return {medassist_safety_rules_begin,
          static_cast<size_t>(medassist_safety_rules_end - medassist_safety_rules_begin)};
}

}  // namespace medassist::assistant
