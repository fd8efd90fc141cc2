# Fuzz targets are added here by the layers' authors.
medassist_add_fuzzer(gguf_fuzz SOURCE gguf_fuzz.cc LIBS medassist_formats)

# Tokenizer: the Qwen2.5 tokenizer on arbitrary text (needs ../shared/data), the Hugging Face
# loaders on arbitrary files, and the hand-written Qwen2 pre-tokenizer against PCRE2.
medassist_add_fuzzer(tokenizer_encode_fuzz SOURCE tokenizer_encode_fuzz.cc LIBS medassist_tokenizer)
target_compile_definitions(tokenizer_encode_fuzz PRIVATE
  MEDASSIST_SHARED_DATA_DIR="${MEDASSIST_SHARED_DATA}")
medassist_add_fuzzer(tokenizer_loader_fuzz SOURCE tokenizer_loader_fuzz.cc LIBS medassist_tokenizer)
medassist_add_fuzzer(pretokenizer_diff_fuzz SOURCE pretokenizer_diff_fuzz.cc
  LIBS medassist_tokenizer PkgConfig::PCRE2 PkgConfig::UTF8PROC)
target_include_directories(pretokenizer_diff_fuzz PRIVATE "${PROJECT_SOURCE_DIR}/tests/tokenizer")

# safetensors reader on arbitrary files.
medassist_add_fuzzer(safetensors_fuzz SOURCE safetensors_fuzz.cc LIBS medassist_formats)

# Hugging Face config.json / generation_config.json parsing.
medassist_add_fuzzer(hf_config_fuzz SOURCE hf_config_fuzz.cc LIBS medassist_formats)

# Server request bodies: JSON parsing, then each generating route's parser and validation.
medassist_add_fuzzer(server_requests_fuzz SOURCE server_requests_fuzz.cc LIBS medassist_server)
