# Every dependency is a Debian package installed by scripts/install-deps.sh.
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
find_package(CURL REQUIRED)      # net/: remote backends and the Hugging Face Hub client
find_package(OpenSSL REQUIRED)   # hub/: sha256 of downloaded and uploaded files
if(MEDASSIST_BUILD_TESTS)
  find_package(GTest REQUIRED)
  find_package(ZLIB REQUIRED)  # tests read the gzip'd tokenizer.json from shared/data
endif()
if(MEDASSIST_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
