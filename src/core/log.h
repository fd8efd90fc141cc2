// Logging goes through spdlog; this sets the one format and level for the whole program.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

#include "core/status.h"

namespace medassist {

// level: trace, debug, info, warn, error, off.
Status InitLogging(std::string_view level);

}  // namespace medassist
