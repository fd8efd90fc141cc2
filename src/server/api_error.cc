#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace medassist::server {

ApiError InvalidRequest(std::string message, std::string param, std::string code) {
  return ApiError{.http_status = 400,
                  .message = std::move(message),
                  .param = std::move(param),
                  .code = std::move(code)};
}

ApiError ServerBusy(std::string message, int retry_after_seconds) {
  return ApiError{.http_status = 503,
                  .message = std::move(message),
                  .type = "server_error",
                  .code = "server_busy",
                  .retry_after_seconds = retry_after_seconds};
}

ApiError ErrorFromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kUnimplemented:
      return InvalidRequest(status.message());
    case StatusCode::kNotFound:
      return ApiError{.http_status = 404, .message = status.message(), .code = "not_found"};
    case StatusCode::kResourceExhausted:
      return ServerBusy(status.message(), 1);
    // The remote backends: the upstream is down or cold (503), slow (504) or wrong (502).
    case StatusCode::kUnavailable:
      return ApiError{.http_status = 503,
                      .message = status.message(),
                      .type = "server_error",
                      .code = "upstream_unavailable",
                      .retry_after_seconds = 5};
    case StatusCode::kDeadlineExceeded:
      return ApiError{.http_status = 504,
                      .message = status.message(),
                      .type = "server_error",
                      .code = "upstream_timeout"};
    case StatusCode::kUpstreamError:
      return ApiError{.http_status = 502,
                      .message = status.message(),
                      .type = "server_error",
                      .code = "upstream_error"};
    default:
      return ApiError{.http_status = 500, .message = status.message(), .type = "server_error"};
  }
}

std::string ErrorJson(const ApiError& e) {
  nlohmann::json body = {{"error",
                          {{"message", e.message},
                           {"type", e.type},
                           {"param", e.param.empty() ? nlohmann::json() : nlohmann::json(e.param)},
                           {"code", e.code.empty() ? nlohmann::json() : nlohmann::json(e.code)}}}};
  // Replace, not throw, on invalid UTF-8 (a message may quote what the client sent).
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace medassist::server
