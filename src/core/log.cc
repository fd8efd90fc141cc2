#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <string>

namespace medassist {

Status InitLogging(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for anything it does not know; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return InvalidArgument("unknown log level '" + std::string(level) +
                           "' (use trace, debug, info, warn, error or off)");
  }
  // Logs go to stderr so that stdout stays clean for command output (ids, JSON).
  auto logger = spdlog::get("medassist");
  if (!logger) logger = spdlog::stderr_color_mt("medassist");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(parsed);
  return Status::Ok();
}

}  // namespace medassist
