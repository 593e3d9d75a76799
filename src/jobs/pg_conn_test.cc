// The SQLSTATE table of the PostgreSQL adapter (no server needed).
#include "jobs/pg_conn.h"

#include "common/error_kinds.h"
#include "gtest/gtest.h"

namespace imagen::jobs::pg {
namespace {

struct Case {
  const char* sqlstate;
  absl::StatusCode code;
};

TEST(PgConnTest, SqlStateTable) {
  const Case cases[] = {
      {"40001", absl::StatusCode::kAborted},             // serialization_failure
      {"40P01", absl::StatusCode::kAborted},             // deadlock_detected
      {"55P03", absl::StatusCode::kAborted},             // lock_not_available
      {"23505", absl::StatusCode::kAlreadyExists},       // unique_violation
      {"23503", absl::StatusCode::kFailedPrecondition},  // foreign_key_violation
      {"23514", absl::StatusCode::kFailedPrecondition},  // check_violation
      {"53100", absl::StatusCode::kResourceExhausted},   // disk_full
      {"53200", absl::StatusCode::kResourceExhausted},   // out_of_memory
      {"53300", absl::StatusCode::kUnavailable},         // too_many_connections
      {"08006", absl::StatusCode::kUnavailable},         // connection_failure
      {"08001", absl::StatusCode::kUnavailable},         // sqlclient_unable_to_establish_sqlconnection
      {"57P01", absl::StatusCode::kUnavailable},         // admin_shutdown
      {"57P03", absl::StatusCode::kUnavailable},         // cannot_connect_now
      {"25006", absl::StatusCode::kUnavailable},         // read_only_sql_transaction (a standby)
      {"", absl::StatusCode::kUnavailable},              // no answer from the server
      {"57014", absl::StatusCode::kDeadlineExceeded},    // query_canceled (statement_timeout)
      {"22P02", absl::StatusCode::kInvalidArgument},     // invalid_text_representation
      {"28P01", absl::StatusCode::kPermissionDenied},    // invalid_password
      {"42501", absl::StatusCode::kPermissionDenied},    // insufficient_privilege
      {"3D000", absl::StatusCode::kNotFound},            // invalid_catalog_name
      {"42601", absl::StatusCode::kInternal},            // syntax_error
      {"42P01", absl::StatusCode::kInternal},            // undefined_table
      {"XX000", absl::StatusCode::kInternal},            // internal_error
  };
  for (const Case& c : cases) {
    absl::Status s = StatusFromSqlState(c.sqlstate, "boom");
    EXPECT_EQ(s.code(), c.code) << c.sqlstate << ": " << s;
    EXPECT_EQ(SqlStateOf(s), c.sqlstate);
  }
}

TEST(PgConnTest, DiskFullIsMarked) {
  absl::Status s = StatusFromSqlState("53100", "could not extend file");
  EXPECT_TRUE(IsDiskFull(s)) << s;
  EXPECT_FALSE(IsDiskFull(StatusFromSqlState("53200", "out of memory")));
  EXPECT_NE(s.message().find("SQLSTATE 53100"), std::string::npos);
}

TEST(PgConnTest, TextArrayQuotesAndNulls) {
  PgParams p;
  p.TextArray({"a", "b\"c", "d\\e", ""}, /*empty_is_null=*/true).TextArray({});
  EXPECT_EQ(p.size(), 2);
}

}  // namespace
}  // namespace imagen::jobs::pg
