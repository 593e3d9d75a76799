// A throwaway PostgreSQL server for the integration tests and the benchmark.
// In order: $IMAGEN_TEST_PG_URI (a server someone else runs), the URI file a
// CTest fixture wrote ($IMAGEN_TEST_PG_URI_FILE), or a server of its own
// started with start_pg.sh in a temp dir and stopped on destruction.
// Databases() gives every test a fresh database. Thread-compatible.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "jobs/crypto.h"
#include "jobs/pg_conn.h"

namespace imagen::jobs::pg::testing {

class PgTestServer {
 public:
  // `scripts`: the folder holding start_pg.sh / stop_pg.sh.
  static absl::StatusOr<std::unique_ptr<PgTestServer>> Start(const std::string& scripts) {
    return StartImpl(scripts, /*own=*/false);
  }
  // Always a server of its own (tests that crash it).
  static absl::StatusOr<std::unique_ptr<PgTestServer>> StartOwn(const std::string& scripts) {
    return StartImpl(scripts, /*own=*/true);
  }

  // Crashes the server (pg_ctl stop -m immediate: no shutdown checkpoint)
  // and starts it again on the same port; it recovers from its WAL.
  absl::Status CrashAndRestart() {
    if (dir_.empty()) return absl::FailedPreconditionError("not this object's server");
    admin_.reset();
    std::string stop = absl::StrCat(scripts_, "/stop_pg.sh ", dir_, " --keep >/dev/null 2>&1");
    if (std::system(stop.c_str()) != 0) return absl::InternalError("stop_pg.sh failed");
    std::string start = absl::StrCat(scripts_, "/start_pg.sh ", dir_, " >/dev/null 2>&1");
    if (std::system(start.c_str()) != 0) return absl::InternalError("start_pg.sh (restart) failed");
    std::string uri;
    if (!ReadLine(dir_ + "/uri", uri) || uri != uri_) return absl::InternalError("the server came back elsewhere");
    ASSIGN_OR_RETURN(admin_, PgConn::Connect(uri_));
    return absl::OkStatus();
  }

 private:
  static absl::StatusOr<std::unique_ptr<PgTestServer>> StartImpl(const std::string& scripts, bool own) {
    std::unique_ptr<PgTestServer> s(new PgTestServer);
    s->scripts_ = scripts;
    if (const char* uri = std::getenv("IMAGEN_TEST_PG_URI"); !own && uri && *uri) {
      s->uri_ = uri;
    } else if (const char* file = std::getenv("IMAGEN_TEST_PG_URI_FILE");
               !own && file && *file && ReadLine(file, s->uri_)) {
    } else {
      s->dir_ = absl::StrCat(std::filesystem::temp_directory_path().string(), "/imagen-pg-", getpid(), "-",
                             RandomHexId("", 4));
      std::string cmd = absl::StrCat(scripts, "/start_pg.sh ", s->dir_, " >", s->dir_, ".out 2>&1");
      int rc = std::system(cmd.c_str());
      std::string out = Slurp(s->dir_ + ".out");
      std::filesystem::remove(s->dir_ + ".out");
      if (rc != 0) {
        s->dir_.clear();
        return absl::FailedPreconditionError(absl::StrCat("cannot start a throwaway PostgreSQL (", scripts,
                                                          "/start_pg.sh, exit ", WEXITSTATUS(rc), "): ", out));
      }
      if (!ReadLine(s->dir_ + "/uri", s->uri_)) return absl::InternalError("start_pg.sh wrote no uri file");
    }
    ASSIGN_OR_RETURN(s->admin_, PgConn::Connect(s->uri_));
    return s;
  }

 public:
  ~PgTestServer() {
    if (dir_.empty()) return;
    admin_.reset();
    std::string cmd = absl::StrCat(scripts_, "/stop_pg.sh ", dir_, " >/dev/null 2>&1");
    (void)std::system(cmd.c_str());
  }

  const std::string& uri() const { return uri_; }
  // The cluster folder when this object started the server, else "".
  const std::string& dir() const { return dir_; }

  // A new empty database and its URI.
  absl::StatusOr<std::string> NewDatabase() {
    std::string name = RandomHexId("t_", 6);
    absl::Status s = admin_->ExecScript(absl::StrCat("CREATE DATABASE ", name));
    if (!s.ok()) return s;
    return WithDatabase(uri_, name);
  }

  // `uri` with its database name replaced by `db`.
  static std::string WithDatabase(const std::string& uri, const std::string& db) {
    size_t scheme = uri.find("://");
    size_t q = uri.find('?');
    std::string base = uri.substr(0, q);
    std::string query = q == std::string::npos ? "" : uri.substr(q);
    size_t slash = base.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    if (slash != std::string::npos) base = base.substr(0, slash);
    return absl::StrCat(base, "/", db, query);
  }

 private:
  PgTestServer() = default;
  static bool ReadLine(const std::string& path, std::string& out) {
    std::ifstream f(path);
    return static_cast<bool>(std::getline(f, out)) && !out.empty();
  }
  static std::string Slurp(const std::string& path) {
    std::ifstream f(path);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }

  std::string scripts_;
  std::string dir_;  // set when this object started the server
  std::string uri_;
  std::unique_ptr<PgConn> admin_;
};

}  // namespace imagen::jobs::pg::testing
