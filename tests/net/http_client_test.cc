// net::SendHttp against cpp-httplib servers on loopback: bodies, streaming, redirects, ranges,
// uploads, timeouts, cancellation and refused connections.
#include "net/http_client.h"

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

namespace medassist::net {
namespace {

using namespace std::chrono_literals;

class LoopbackServer {
 public:
  LoopbackServer() {
    http_.new_task_queue = [] { return new httplib::ThreadPool(4); };
    port_ = http_.bind_to_any_port("127.0.0.1");
  }
  ~LoopbackServer() {
    http_.stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Server& http() { return http_; }
  void Start() {
    // Bound and listening already: connections wait in the backlog until the loop runs.
    thread_ = std::thread([this] { http_.listen_after_bind(); });
  }
  std::string Url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return "http://" + host + ":" + std::to_string(port_) + path;
  }
  int port() const { return port_; }

 private:
  httplib::Server http_;
  std::thread thread_;
  int port_ = 0;
};

// A loopback port bound once and released: nothing listens there now.
int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(HttpClientTest, PostsABodyAndReadsTheAnswerAndItsHeaders) {
  LoopbackServer server;
  server.http().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Seen-Type", req.get_header_value("Content-Type"));
    res.set_content("got:" + req.body, "text/plain");
  });
  server.Start();
  HttpResult r = SendHttp({.method = "POST",
                           .url = server.Url("/echo"),
                           .headers = {{"Content-Type", "application/json"}},
                           .body = R"({"a":1})"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.response.status, 200);
  EXPECT_EQ(r.response.body, R"(got:{"a":1})");
  EXPECT_EQ(r.response.Header("x-seen-type"), "application/json");
  EXPECT_EQ(r.response.Header("X-SEEN-TYPE"), "application/json");
  EXPECT_FALSE(r.response.Header("x-absent").has_value());
}

TEST(HttpClientTest, AnErrorStatusIsAnAnswerNotAFailure) {
  LoopbackServer server;
  server.http().Get("/busy", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content(R"({"error":"loading","estimated_time":3.5})", "application/json");
  });
  server.Start();
  HttpResult r = SendHttp({.url = server.Url("/busy")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.response.status, 503);
  EXPECT_EQ(r.response.body, R"({"error":"loading","estimated_time":3.5})");
}

TEST(HttpClientTest, StreamsTheBodyAsItArrives) {
  LoopbackServer server;
  server.http().Get("/stream", [](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/event-stream", [](size_t, httplib::DataSink& sink) {
      for (int i = 0; i < 3; ++i) {
        std::string piece = "data: " + std::to_string(i) + "\n\n";
        sink.write(piece.data(), piece.size());
        std::this_thread::sleep_for(30ms);
      }
      sink.done();
      return true;
    });
  });
  server.Start();
  std::vector<std::string> pieces;
  int status_seen = 0;
  HttpResult r = SendHttp({.url = server.Url("/stream")}, {.on_headers =
                                                               [&](int status, const Headers&) {
                                                                 status_seen = status;
                                                                 return true;
                                                               },
                                                           .on_body =
                                                               [&](std::string_view chunk) {
                                                                 pieces.emplace_back(chunk);
                                                                 return true;
                                                               }});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(status_seen, 200);
  EXPECT_TRUE(r.response.body.empty());
  std::string all;
  for (const std::string& p : pieces) all += p;
  EXPECT_EQ(all, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  EXPECT_GE(pieces.size(), 3u);  // paced 30 ms apart: not collected into one piece
}

TEST(HttpClientTest, FollowsRedirectsOrReportsThem) {
  LoopbackServer target, origin;
  target.http().Get("/file", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content("auth=" + req.get_header_value("Authorization"), "text/plain");
  });
  target.Start();
  const std::string location = target.Url("/file", "localhost");
  origin.http().Get("/resolve", [&](const httplib::Request&, httplib::Response& res) {
    res.set_redirect(location, 302);
    res.set_header("X-Linked-Etag", "\"abc\"");
  });
  origin.Start();

  HttpResult followed =
      SendHttp({.url = origin.Url("/resolve"), .headers = {{"Authorization", "Bearer secret"}}});
  ASSERT_TRUE(followed.ok()) << followed.error;
  EXPECT_EQ(followed.response.status, 200);
  // The token is not handed to another host.
  EXPECT_EQ(followed.response.body, "auth=");
  EXPECT_EQ(followed.response.effective_url, location);
  EXPECT_FALSE(followed.response.Header("x-linked-etag").has_value());  // the last answer's only

  HttpResult not_followed = SendHttp({.url = origin.Url("/resolve"), .follow_redirects = false});
  ASSERT_TRUE(not_followed.ok());
  EXPECT_EQ(not_followed.response.status, 302);
  EXPECT_EQ(not_followed.response.Header("location"), location);
  EXPECT_EQ(not_followed.response.Header("x-linked-etag"), "\"abc\"");
}

TEST(HttpClientTest, AsksForARange) {
  LoopbackServer server;
  server.http().Get("/blob", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("0123456789", "application/octet-stream");  // httplib serves Range itself
  });
  server.Start();
  HttpResult r = SendHttp({.url = server.Url("/blob"), .range_start = 6});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.response.status, 206);
  EXPECT_EQ(r.response.body, "6789");
}

TEST(HttpClientTest, UploadsAFileRegion) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("net_upload_" + std::to_string(::getpid()));
  std::ofstream(file) << "headerPAYLOADtrailer";
  LoopbackServer server;
  server.http().Put("/put", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(req.body + "|" + req.get_header_value("Content-Length"), "text/plain");
  });
  server.Start();
  HttpResult r = SendHttp({.method = "PUT",
                           .url = server.Url("/put"),
                           .upload_file = file.string(),
                           .upload_offset = 6,
                           .upload_size = 7});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.response.body, "PAYLOAD|7");
  HttpResult outside = SendHttp({.method = "PUT",
                                 .url = server.Url("/put"),
                                 .upload_file = file.string(),
                                 .upload_offset = 15,
                                 .upload_size = 7});
  EXPECT_EQ(outside.failure, HttpFailure::kBadRequest);
  std::filesystem::remove(file);
}

TEST(HttpClientTest, AnIdleServerTimesOut) {
  LoopbackServer server;
  server.http().Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(1500ms);
    res.set_content("late", "text/plain");
  });
  server.Start();
  auto start = std::chrono::steady_clock::now();
  HttpResult r = SendHttp({.url = server.Url("/slow"), .idle_timeout = 200ms});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.failure, HttpFailure::kTimeout);
  EXPECT_NE(r.error.find("no data for 200 ms"), std::string::npos) << r.error;
  EXPECT_LT(took, 1000ms);
}

TEST(HttpClientTest, TheCallerCanCancel) {
  LoopbackServer server;
  server.http().Get("/forever", [](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [](size_t, httplib::DataSink& sink) {
      std::this_thread::sleep_for(20ms);
      return sink.write("x", 1);
    });
  });
  server.Start();
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(150ms);
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();
  size_t bytes = 0;
  HttpResult r = SendHttp(
      {.url = server.Url("/forever")},
      {.on_body = [&](std::string_view c) { return bytes += c.size(), true; }, .cancel = &cancel});
  auto took = std::chrono::steady_clock::now() - start;
  canceller.join();
  EXPECT_EQ(r.failure, HttpFailure::kCancelled);
  EXPECT_GT(bytes, 0u);
  EXPECT_LT(took, 1000ms);
}

TEST(HttpClientTest, OnBodyReturningFalseAborts) {
  LoopbackServer server;
  server.http().Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(1 << 20, 'y'), "text/plain");
  });
  server.Start();
  HttpResult r =
      SendHttp({.url = server.Url("/big")}, {.on_body = [](std::string_view) { return false; }});
  EXPECT_EQ(r.failure, HttpFailure::kCancelled);
}

TEST(HttpClientTest, ARefusedConnectionIsAConnectFailure) {
  const int port = UnusedPort();
  HttpResult r = SendHttp({.url = "http://127.0.0.1:" + std::to_string(port) + "/x"});
  EXPECT_EQ(r.failure, HttpFailure::kConnect);
  EXPECT_NE(r.error.find("127.0.0.1"), std::string::npos);
  HttpResult bad = SendHttp({.url = "ftp://example.com/x"});
  EXPECT_EQ(bad.failure, HttpFailure::kBadRequest);
}

TEST(HttpClientTest, ABrokenTransferIsReported) {
  LoopbackServer server;
  server.http().Get("/drop", [](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [](size_t offset, httplib::DataSink& sink) {
      if (offset > 0) return false;  // httplib closes the connection without the last chunk
      return sink.write("partial", 7);
    });
  });
  server.Start();
  HttpResult r = SendHttp({.url = server.Url("/drop")});
  EXPECT_EQ(r.failure, HttpFailure::kTransfer) << r.error;
  EXPECT_EQ(r.response.body, "partial");
}

TEST(HttpClientTest, RequestsReuseAKeptAliveConnection) {
  LoopbackServer server;
  std::mutex mutex;
  std::set<int> client_ports;
  server.http().Get("/ping", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mutex);
    client_ports.insert(req.remote_port);
    res.set_content("pong", "text/plain");
  });
  server.Start();
  server.http().set_keep_alive_timeout(1);  // so that the server stops soon after the test
  for (int i = 0; i < 4; ++i) {
    HttpResult r = SendHttp({.url = server.Url("/ping"), .reuse_connection = true});
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.response.body, "pong");
  }
  EXPECT_EQ(client_ports.size(), 1u);                         // one TCP connection served all four
  HttpResult fresh = SendHttp({.url = server.Url("/ping")});  // not pooled: a new connection
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(client_ports.size(), 2u);
}

TEST(HttpClientTest, RedactUrlDropsCredentialsAndQueries) {
  EXPECT_EQ(RedactUrl("https://user:pw@host:8080/a/b?token=x#f"), "https://host:8080/a/b");
  EXPECT_EQ(RedactUrl("http://host/p"), "http://host/p");
  EXPECT_EQ(RedactUrl("host/p?q"), "host/p");
}

}  // namespace
}  // namespace medassist::net
