// Shared by the hub tests: a stand-in hub, a fresh cache, and a config pointing at both.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "hub/hub_config.h"
#include "standin_hub.h"
#include "support/test_support.h"

namespace medassist::hub::testing {

class HubTest : public ::testing::Test {
 protected:
  HubConfig Config() const {
    HubConfig c;
    c.endpoint = hub_.endpoint();
    c.cache_root = cache_.path() + "/hub";
    c.progress = false;
    return c;
  }
  // A file's bytes, or "" when it cannot be read.
  static std::string Read(const std::string& path) {
    return std::filesystem::exists(path) ? medassist::testing::ReadFileOrFail(path) : "";
  }

  StandinHub hub_;
  medassist::testing::TempDir cache_;
};

}  // namespace medassist::hub::testing
