// Text placed into HTML (the reports of eval/ and train/).
#pragma once

#include <string>
#include <string_view>

namespace medassist {

// &, <, >, " and ' as entities: safe in element text and in quoted attributes.
std::string EscapeHtml(std::string_view text);

}  // namespace medassist
