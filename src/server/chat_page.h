// The small chat page GET / serves to browsers: it streams from /v1/chat/completions.
#pragma once

#include <string_view>

namespace medassist::server {

std::string_view ChatPageHtml();

}  // namespace medassist::server
