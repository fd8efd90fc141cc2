// Errors as the OpenAI API reports them: an HTTP status and the envelope
//   {"error": {"message": "...", "type": "...", "param": "..." | null, "code": "..." | null}}
// Every /v1 route answers failures with it (DESIGN §7: below the server errors are Status values;
// here they become HTTP statuses and this body).
#pragma once

#include <string>

#include "core/status.h"

namespace medassist::server {

struct ApiError {
  int http_status = 400;
  std::string message = {};
  std::string type = "invalid_request_error";
  std::string param = {};       // the offending request field ("" -> null)
  std::string code = {};        // a machine-readable code ("" -> null)
  int retry_after_seconds = 0;  // > 0: sent as Retry-After (429, 503)
};

// 400 invalid_request_error naming the field.
ApiError InvalidRequest(std::string message, std::string param = "", std::string code = "");
// 503 "server busy" with Retry-After.
ApiError ServerBusy(std::string message, int retry_after_seconds);
// A Status from below the server: InvalidArgument -> 400, ResourceExhausted -> 503 with
// Retry-After, NotFound -> 404, Unimplemented -> 400, anything else -> 500 (message kept: our
// Status messages are written for users and never carry secrets).
ApiError ErrorFromStatus(const Status& status);

// The envelope as compact JSON.
std::string ErrorJson(const ApiError& error);

}  // namespace medassist::server
