#include "runtime/sampling_defaults.h"

namespace medassist::runtime {

const char* const kSamplingDefaultsTable =
    "| field | request | route default | generation_config.json | built-in |\n"
    "|---|---|---|---|---|\n"
    "| temperature (0: greedy) | its value | the route's | `temperature` (0 when `do_sample` is "
    "false) | 1.0 |\n"
    "| top_p | its value | the route's | `top_p` | 1.0 (off) |\n"
    "| top_k | its value | the route's | `top_k` | 0 (off) |\n"
    "| min_p | its value | the route's | (none) | 0 (off) |\n"
    "| repetition_penalty | its value | the route's | `repetition_penalty` | 1.0 (off) |\n"
    "| presence_penalty, frequency_penalty | its value | the route's | (none) | 0 |\n"
    "| max new tokens | `max_tokens` / `max_new_tokens` | the route's (`/v1/generate`: 128) | "
    "`max_new_tokens` | 1024, and never past the context |\n"
    "| seed | its value | the route's | (none) | a new random seed per request |\n";

}  // namespace medassist::runtime
