// PgQueue: opening, API keys, reads and submission (the commit group).
#include "jobs/pg_queue.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "jobs/crypto.h"
#include "jobs/pg_rows.h"
#include "jobs/pg_schema.h"

namespace imagen::jobs::pg {

using internal::JobColumns;
using internal::RowToJob;

absl::StatusOr<std::unique_ptr<PgQueue>> PgQueue::Open(const PgQueueOptions& options) {
  Clock* clock = options.clock ? options.clock : Clock::Real();
  if (options.migrate) {
    ASSIGN_OR_RETURN(auto conn, PgConn::Connect(options.uri));
    RETURN_IF_ERROR(MigratePg(*conn));
  }
  ASSIGN_OR_RETURN(auto pool, PgPool::Open(options.uri, options.pool_size));
  // The lease must walk its indexes in order whatever the (always stale)
  // statistics of a queue table say: with a sort allowed, the planner may
  // sort a key's whole backlog to take one row. Only Lease and the
  // heartbeats run on these connections.
  ASSIGN_OR_RETURN(auto apool, PgPool::Open(options.uri, options.async_pool_size,
                                            "SET synchronous_commit = off; SET enable_sort = off"));
  std::unique_ptr<PgQueue> q(new PgQueue(std::move(pool), std::move(apool), options.uri, clock));
  {
    auto c = q->pool_->Acquire();
    ASSIGN_OR_RETURN(int version, PgSchemaVersion(*c.get()));
    if (version != kPgSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat("job database is at schema version ", version,
                                                        ", this imagen needs ", kPgSchemaVersion,
                                                        " (start a process with migrations on)"));
    }
  }
  return q;
}

PgQueue::~PgQueue() { ResignLeader(); }

int64_t PgQueue::NowUs() const { return absl::ToUnixMicros(clock_->Now()); }

void PgQueue::Notify(const Job& job) {
  if (listener_) listener_(job);
}

absl::Status PgQueue::Ping() {
  auto c = pool_->Acquire();
  ASSIGN_OR_RETURN(int version, PgSchemaVersion(*c.get()));
  if (version == 0) return absl::UnavailableError("job database has no schema version");
  return absl::OkStatus();
}

// ---------------------------------------------------------------- keys

absl::Status PgQueue::InsertKey(const ApiKey& k) {
  auto c = pool_->Acquire();
  return c
      ->Exec(
          "INSERT INTO api_keys(id,name,key_hash,webhook_secret,rate,max_concurrent,admin,created_at,max_priority,"
          "max_queued,revoked_at) VALUES($1,$2,$3,$4,$5,$6,$7,('epoch'::timestamptz + $8::int8 * interval '1 us'),"
          "$9,$10,('epoch'::timestamptz + $11::int8 * interval '1 us'))",
          PgParams()
              .Text(k.id)
              .Text(k.name)
              .Text(k.key_hash)
              .Text(k.webhook_secret)
              .Double(k.rate)
              .Int(k.max_concurrent)
              .Bool(k.admin)
              .Int(absl::ToUnixMicros(k.created_at))
              .Int(k.max_priority)
              .Int(k.max_queued)
              .IntOrNull(k.revoked_at ? std::optional<int64_t>(absl::ToUnixMicros(*k.revoked_at)) : std::nullopt))
      .status();
}

absl::StatusOr<ApiKey> PgQueue::RevokeKey(const std::string& id_or_prefix) {
  auto c = pool_->Acquire();
  PgTx tx(c.get());
  RETURN_IF_ERROR(tx.Begin());
  ASSIGN_OR_RETURN(auto r, c->Exec(absl::StrCat("SELECT ", internal::KeyColumns(),
                                                " FROM api_keys WHERE id=$1 OR (length($1) >= 4 AND "
                                                "starts_with(id, $1)) ORDER BY id=$1 DESC, id LIMIT 3 FOR UPDATE"),
                                   PgParams().Text(id_or_prefix)));
  if (r.Rows() == 0) return absl::NotFoundError(absl::StrCat("no API key '", id_or_prefix, "'"));
  ApiKey key = internal::RowToKey(r, 0);
  if (key.id != id_or_prefix && r.Rows() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("'", id_or_prefix, "' matches several keys (", key.id, ", ",
                                                   std::string(r.Text(1, 0)), r.Rows() > 2 ? ", ..." : "",
                                                   "); give more of the id"));
  }
  if (key.admin) {
    return absl::FailedPreconditionError(
        absl::StrCat("key ", key.id, " is the admin key; replace DIR/admin.key and restart instead"));
  }
  if (!key.revoked_at) {
    RETURN_IF_ERROR(c->Exec("UPDATE api_keys SET revoked_at=('epoch'::timestamptz + $2::int8 * interval '1 us') "
                            "WHERE id=$1",
                            PgParams().Text(key.id).Int(NowUs()))
                        .status());
    key.revoked_at = absl::FromUnixMicros(NowUs());
  }
  RETURN_IF_ERROR(tx.Commit());
  return key;
}

absl::Status PgQueue::SetKeyWeight(const std::string& key_id, int weight) {
  if (weight < 1 || weight > kVtQuantum) {
    return absl::InvalidArgumentError(absl::StrCat("key weight must be 1..", kVtQuantum, ", not ", weight));
  }
  auto c = pool_->Acquire();
  PgTx tx(c.get());
  RETURN_IF_ERROR(tx.Begin());
  ASSIGN_OR_RETURN(auto r, c->Exec("UPDATE api_keys SET weight=$2 WHERE id=$1", PgParams().Text(key_id).Int(weight)));
  if (r.Affected() == 0) return absl::NotFoundError(absl::StrCat("API key '", key_id, "' not found"));
  RETURN_IF_ERROR(c->Exec("INSERT INTO key_sched(key_id, weight) VALUES($1,$2) "
                          "ON CONFLICT (key_id) DO UPDATE SET weight=excluded.weight",
                          PgParams().Text(key_id).Int(weight))
                      .status());
  return tx.Commit();
}

absl::StatusOr<std::optional<ApiKey>> PgQueue::FindKeyByHash(const std::string& key_hash) {
  auto c = pool_->Acquire();
  ASSIGN_OR_RETURN(auto r, c->Exec(absl::StrCat("SELECT ", internal::KeyColumns(),
                                                " FROM api_keys WHERE key_hash=$1 AND revoked_at IS NULL"),
                                   PgParams().Text(key_hash)));
  if (r.Rows() == 0) return std::nullopt;
  return internal::RowToKey(r, 0);
}

absl::StatusOr<std::optional<ApiKey>> PgQueue::FindKey(const std::string& id) {
  auto c = pool_->Acquire();
  ASSIGN_OR_RETURN(auto r, c->Exec(absl::StrCat("SELECT ", internal::KeyColumns(), " FROM api_keys WHERE id=$1"),
                                   PgParams().Text(id)));
  if (r.Rows() == 0) return std::nullopt;
  return internal::RowToKey(r, 0);
}

absl::StatusOr<std::vector<ApiKey>> PgQueue::ListKeys() {
  auto c = pool_->Acquire();
  ASSIGN_OR_RETURN(auto r,
                   c->Exec(absl::StrCat("SELECT ", internal::KeyColumns(), " FROM api_keys ORDER BY created_at")));
  std::vector<ApiKey> out;
  for (int i = 0; i < r.Rows(); ++i) out.push_back(internal::RowToKey(r, i));
  return out;
}

// ---------------------------------------------------------------- reads

absl::StatusOr<Job> PgQueue::Get(const std::string& id) {
  auto c = pool_->Acquire();
  ASSIGN_OR_RETURN(auto r,
                   c->Exec(absl::StrCat("SELECT ", JobColumns(), " FROM jobs WHERE id=$1"), PgParams().Text(id)));
  if (r.Rows() == 0) return absl::NotFoundError(absl::StrCat("job '", id, "' not found"));
  return RowToJob(r, 0);
}

absl::StatusOr<std::optional<std::string>> PgQueue::GetInlineInput(const std::string& ref) {
  auto c = pool_->Acquire();
  ASSIGN_OR_RETURN(auto r, c->Exec("SELECT data FROM inline_inputs WHERE ref=$1", PgParams().Text(ref)));
  if (r.Rows() == 0) return std::nullopt;
  return r.Bytes(0, 0);
}

absl::StatusOr<std::vector<Job>> PgQueue::List(const std::string& key_id, std::optional<JobState> state, int limit,
                                               int64_t before_seq) {
  auto c = pool_->Acquire();
  // A queued job may be stored as 'scheduled' (waiting for its run_after).
  std::string states = !state                        ? ""
                       : *state == JobState::kQueued ? "{queued,scheduled}"
                                                     : absl::StrCat("{", JobStateName(*state), "}");
  ASSIGN_OR_RETURN(auto r,
                   c->Exec(absl::StrCat("SELECT ", JobColumns(),
                                        " FROM jobs WHERE ($1='' OR key_id=$1) AND ($2='' OR state=ANY($2::text[]))"
                                        " AND ($3::bigint=0 OR seq<$3::bigint) ORDER BY seq DESC LIMIT $4"),
                           PgParams().Text(key_id).Text(states).Int(before_seq).Int(limit)));
  std::vector<Job> out;
  for (int i = 0; i < r.Rows(); ++i) out.push_back(RowToJob(r, i));
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> PgQueue::CountByState() {
  auto c = pool_->Acquire();
  ASSIGN_OR_RETURN(auto r, c->Exec("SELECT CASE WHEN state='scheduled' THEN 'queued' ELSE state END, count(*) "
                                   "FROM jobs GROUP BY 1"));
  std::map<std::string, int64_t> out;
  for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                     JobState::kCanceled, JobState::kDead}) {
    out[JobStateName(s)] = 0;
  }
  for (int i = 0; i < r.Rows(); ++i) out[std::string(r.Text(i, 0))] = r.Int(i, 1);
  return out;
}

absl::StatusOr<int64_t> PgQueue::QueueDepth() {
  auto c = pool_->Acquire();
  ASSIGN_OR_RETURN(auto r, c->Exec("SELECT count(*) FROM jobs WHERE state IN ('queued','scheduled')"));
  return r.Int(0, 0);
}

absl::StatusOr<bool> PgQueue::InputReferenced(const std::string& input_ref) {
  auto c = pool_->Acquire();
  ASSIGN_OR_RETURN(auto r, c->Exec("SELECT EXISTS(SELECT 1 FROM jobs WHERE input_ref=$1)", PgParams().Text(input_ref)));
  return r.Bool(0, 0);
}

// ---------------------------------------------------------------- submit

absl::StatusOr<CreateResult> PgQueue::Create(const NewJob& nj) {
  ASSIGN_OR_RETURN(auto results, CreateBatch({nj}));
  return std::move(results[0]);
}

namespace {

absl::Status IdempotencyConflict(const NewJob& nj, const Job& prior) {
  return absl::AlreadyExistsError(absl::StrCat("Idempotency-Key '", nj.idempotency_key,
                                               "' was already used for a different request (job ", prior.id, ")"));
}

std::string IdemKey(const std::string& key_id, const std::string& idem) { return absl::StrCat(key_id, "\n", idem); }

// The error JobStore marks a submission over its key's queue quota with
// (IsQueueQuotaError; the payload key is job_store.cc's).
absl::Status QueueQuotaError(const std::string& message) {
  absl::Status s = absl::ResourceExhaustedError(message);
  s.SetPayload("imagen.jobs/queue-quota", absl::Cord("1"));
  return s;
}

}  // namespace

// One transaction: inline inputs, the input-ref share locks (see
// SweepFinished), earlier twins of idempotency keys, the fair-queuing clock
// of each key (one upsert per key), one multi-row INSERT, one NOTIFY.
absl::StatusOr<std::vector<absl::StatusOr<CreateResult>>> PgQueue::CreateBatch(const std::vector<NewJob>& given) {
  std::vector<absl::StatusOr<CreateResult>> out(given.size(), absl::UnknownError("not submitted"));
  if (given.empty()) return out;
  // Only valid UTF-8 is stored (PostgreSQL would refuse the whole group);
  // the request hash was taken over the texts as sent, as in JobStore.
  std::vector<NewJob> jobs = given;
  for (NewJob& nj : jobs) {
    nj.params_json = ToValidUtf8(nj.params_json);
    nj.webhook_url = ToValidUtf8(nj.webhook_url);
    nj.idempotency_key = ToValidUtf8(nj.idempotency_key);
    nj.operation = ToValidUtf8(nj.operation);
    nj.input_type = ToValidUtf8(nj.input_type);
  }
  const int64_t now = NowUs();
  auto c = pool_->Acquire();
  PgTx tx(c.get());

  // Round trip 1 (pipelined, none depends on another): BEGIN; share locks on
  // every input ref of the group (in hash order, as the sweeper takes them,
  // so the two cannot deadlock) before the inline inputs; earlier twins of
  // idempotency keys; and per key, in sorted order (so concurrent groups
  // cannot deadlock), the upsert that locks its fair-queuing clock (which
  // also makes its queue quota count exact) and returns where its jobs start:
  // max(the key's clock, the smallest queued virtual time).
  std::vector<PgConn::Statement> first;
  first.push_back({"BEGIN", PgParams()});
  std::vector<std::string> refs;
  for (const NewJob& nj : jobs) refs.push_back(nj.input_ref);
  std::sort(refs.begin(), refs.end());
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  first.push_back(
      {"SELECT count(pg_advisory_xact_lock_shared(hashtextextended(r, 0))) "
       "FROM (SELECT r FROM unnest($1::text[]) r ORDER BY hashtextextended(r, 0)) x",
       PgParams().TextArray(refs)});
  std::vector<std::string_view> stored;
  for (const NewJob& nj : jobs) {
    if (nj.inline_input.empty() || std::find(stored.begin(), stored.end(), nj.input_ref) != stored.end()) continue;
    stored.push_back(nj.input_ref);
    first.push_back({"INSERT INTO inline_inputs(ref,data) VALUES($1,$2) ON CONFLICT (ref) DO NOTHING",
                     PgParams().Text(nj.input_ref).Bytes(nj.inline_input)});
  }
  const std::string lookup_sql = absl::StrCat("SELECT ", JobColumns("j"),
                                              " FROM jobs j JOIN unnest($1::text[], $2::text[]) AS t(k, i) "
                                              "ON j.key_id=t.k AND j.idempotency_key=t.i");
  int lookup_at = -1;
  {
    std::vector<std::string> keys, idems;
    for (const NewJob& nj : jobs) {
      if (nj.idempotency_key.empty()) continue;
      keys.push_back(nj.key_id);
      idems.push_back(nj.idempotency_key);
    }
    if (!keys.empty()) {
      lookup_at = static_cast<int>(first.size());
      first.push_back({lookup_sql, PgParams().TextArray(keys).TextArray(idems)});
    }
  }
  std::map<std::string, int> key_at;  // key -> index of its upsert in `first`
  for (const NewJob& nj : jobs) key_at.emplace(nj.key_id, 0);
  for (auto& [key_id, at] : key_at) {
    at = static_cast<int>(first.size());
    first.push_back(
        {"WITH b AS (SELECT coalesce((SELECT vt FROM jobs WHERE state='queued' AND NOT blocked ORDER BY vt "
         "LIMIT 1), (SELECT max(last_vt) FROM key_sched), 0) AS base),"
         " w AS (SELECT coalesce((SELECT weight FROM api_keys WHERE id=$1), 1) AS weight) "
         "INSERT INTO key_sched AS k (key_id, weight, last_vt) SELECT $1, w.weight, b.base FROM b, w "
         "ON CONFLICT (key_id) DO UPDATE SET last_vt = greatest(k.last_vt, excluded.last_vt) "
         "RETURNING k.last_vt, $2::bigint / k.weight, "
         "coalesce((SELECT max_priority FROM api_keys WHERE id=$1), 0), "
         "coalesce((SELECT max_queued FROM api_keys WHERE id=$1), 0)",
         PgParams().Text(key_id).Int(kVtQuantum)});
  }
  tx.Adopt();  // from here on the guard rolls back
  ASSIGN_OR_RETURN(std::vector<PgResult> got, c->ExecPipeline(first));

  // Idempotency keys already used (by earlier transactions).
  absl::flat_hash_map<std::string, Job> prior;
  auto add_prior = [&](const PgResult& r) {
    for (int i = 0; i < r.Rows(); ++i) {
      Job j = RowToJob(r, i);
      prior[IdemKey(j.key_id, j.idempotency_key)] = std::move(j);
    }
  };
  if (lookup_at >= 0) add_prior(got[lookup_at]);

  // Which members insert a row; a repeated key within the group points at
  // its first member.
  std::vector<int> twin_of(jobs.size(), -1);
  std::vector<int> inserting;
  absl::flat_hash_map<std::string, int> first_in_group;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const NewJob& nj = jobs[i];
    if (!nj.idempotency_key.empty()) {
      std::string k = IdemKey(nj.key_id, nj.idempotency_key);
      if (auto it = prior.find(k); it != prior.end()) {
        if (it->second.request_hash != nj.request_hash) {
          out[i] = IdempotencyConflict(nj, it->second);
        } else {
          out[i] = CreateResult{it->second, false};
        }
        continue;
      }
      if (auto [it, fresh] = first_in_group.emplace(k, static_cast<int>(i)); !fresh) {
        twin_of[i] = it->second;
        continue;
      }
    }
    inserting.push_back(static_cast<int>(i));
  }

  // Fair queuing: each key's jobs get consecutive virtual times from
  // max(the key's clock, the smallest queued virtual time), weight-scaled.
  // The upsert also locks the key's row (in sorted key order, so concurrent
  // groups cannot deadlock), which makes its queue quota count exact.
  std::map<std::string, std::vector<int>> per_key;  // key -> members it inserts
  for (int i : inserting) per_key[jobs[i].key_id].push_back(i);
  struct KeyPlan {
    int64_t next_vt = 0;
    int64_t step = kVtQuantum;
    int max_priority = 0;
  };
  absl::flat_hash_map<std::string, KeyPlan> plan;
  std::vector<int> admitted;
  for (const auto& [key_id, members] : per_key) {
    const PgResult& r = got[key_at[key_id]];
    KeyPlan& kp = plan[key_id];
    kp.next_vt = r.Int(0, 0);
    kp.step = std::max<int64_t>(1, r.Int(0, 1));
    kp.max_priority = static_cast<int>(r.Int(0, 2));
    int64_t limit = r.Int(0, 3) > 0 ? r.Int(0, 3) : queue_policy_.max_queued_per_key;
    int64_t queued = 0;
    if (limit > 0) {
      ASSIGN_OR_RETURN(auto n, c->Exec("SELECT count(*) FROM jobs WHERE key_id=$1 AND state IN ('queued','scheduled')",
                                       PgParams().Text(key_id)));
      queued = n.Int(0, 0);
    }
    for (int i : members) {
      if (limit > 0 && queued >= limit) {
        out[i] = QueueQuotaError(absl::StrCat("this API key has ", queued,
                                              " queued jobs, its quota (jobs.max_queued_per_key); retry later"));
        continue;
      }
      ++queued;
      admitted.push_back(i);
    }
  }
  std::sort(admitted.begin(), admitted.end());
  inserting = std::move(admitted);

  // One INSERT (moving each key's clock on) and one NOTIFY for the group.
  std::vector<std::string> ids, keys, ops, params, input_refs, input_types, priorities, boosts, vts, max_attempts,
      deadlines, webhooks, idems, hashes;
  for (int i : inserting) {
    const NewJob& nj = jobs[i];
    KeyPlan& kp = plan[nj.key_id];
    ids.push_back(RandomHexId("job_", 12));
    keys.push_back(nj.key_id);
    ops.push_back(nj.operation);
    params.push_back(nj.params_json.empty() ? "{}" : nj.params_json);
    input_refs.push_back(nj.input_ref);
    input_types.push_back(nj.input_type);
    priorities.push_back(absl::StrCat(nj.priority));
    boosts.push_back(absl::StrCat(std::clamp(nj.priority, 0, std::max(0, kp.max_priority))));
    vts.push_back(absl::StrCat(kp.next_vt));
    kp.next_vt += kp.step;
    max_attempts.push_back(absl::StrCat(std::max(1, nj.max_attempts)));
    deadlines.push_back(nj.deadline ? absl::StrCat(absl::ToUnixMicros(*nj.deadline)) : "");
    webhooks.push_back(nj.webhook_url);
    idems.push_back(nj.idempotency_key);
    hashes.push_back(nj.request_hash);
  }
  std::vector<std::string> clock_keys, clock_vts;
  for (const auto& [key_id, kp] : plan) {
    clock_keys.push_back(key_id);
    clock_vts.push_back(absl::StrCat(kp.next_vt));
  }
  absl::flat_hash_map<std::string, Job> inserted;  // by id
  // Round trip 2: the INSERT and the COMMIT, pipelined.
  std::vector<PgConn::Statement> second;
  if (!inserting.empty()) {
    second.push_back(PgConn::Statement{
        absl::StrCat(
            "WITH clk AS (UPDATE key_sched SET last_vt = v.vt FROM unnest($16::text[], $17::bigint[]) "
            "AS v(k, vt) WHERE key_sched.key_id = v.k), "
            "ins AS (INSERT INTO jobs(id,key_id,operation,params,input_ref,input_type,state,priority,boost,vt,"
            "max_attempts,created_at,updated_at,run_after,deadline_at,webhook_url,idempotency_key,request_hash) "
            "SELECT t.id,t.k,t.op,t.params,t.iref,t.itype,'queued',t.prio,t.boost,t.vt,t.maxa,n.now,n.now,n.now,"
            "('epoch'::timestamptz + t.deadline * interval '1 us'),t.hook,t.idem,t.hash "
            "FROM unnest($1::text[],$2::text[],$3::text[],$4::text[],$5::text[],$6::text[],$7::int[],"
            "$8::bigint[],$9::int[],$10::bigint[],$11::text[],$12::text[],$13::text[],$18::int[]) "
            "AS t(id,k,op,params,iref,itype,prio,vt,maxa,deadline,hook,idem,hash,boost), "
            "(SELECT 'epoch'::timestamptz + $14::int8 * interval '1 us' AS now) n "
            "ON CONFLICT (key_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING "
            "RETURNING *) "
            // One notification per transaction however many rows:
            // PostgreSQL folds identical ones.
            "SELECT ",
            JobColumns(), ", pg_notify($15, '') FROM ins"),
        PgParams()
            .TextArray(ids)
            .TextArray(keys)
            .TextArray(ops)
            .TextArray(params)
            .TextArray(input_refs)
            .TextArray(input_types)
            .TextArray(priorities)
            .TextArray(vts)
            .TextArray(max_attempts)
            .TextArray(deadlines, true)
            .TextArray(webhooks, true)
            .TextArray(idems, true)
            .TextArray(hashes, true)
            .Int(now)
            .Text(kWorkChannel)
            .TextArray(clock_keys)
            .TextArray(clock_vts)
            .TextArray(boosts)});
  }
  second.push_back({"COMMIT", PgParams()});
  ASSIGN_OR_RETURN(std::vector<PgResult> done, c->ExecPipeline(second));
  tx.Committed();
  if (!inserting.empty()) {
    const PgResult& r = done[0];
    for (int i = 0; i < r.Rows(); ++i) {
      Job j = RowToJob(r, i);
      std::string id = j.id;
      inserted.emplace(std::move(id), std::move(j));
    }
  }
  // Members whose idempotency key a concurrent transaction took first: that
  // twin had committed (ON CONFLICT waited for it), so read it now.
  std::vector<std::string> late_keys, late_idems;
  for (size_t n = 0; n < inserting.size(); ++n) {
    if (inserted.contains(ids[n])) continue;
    late_keys.push_back(keys[n]);
    late_idems.push_back(idems[n]);
  }
  if (!late_keys.empty()) {
    ASSIGN_OR_RETURN(auto r, c->Exec(lookup_sql, PgParams().TextArray(late_keys).TextArray(late_idems)));
    add_prior(r);
  }
  for (size_t n = 0; n < inserting.size(); ++n) {
    int i = inserting[n];
    if (auto it = inserted.find(ids[n]); it != inserted.end()) {
      out[i] = CreateResult{it->second, true};
      continue;
    }
    auto it = prior.find(IdemKey(jobs[i].key_id, jobs[i].idempotency_key));
    if (it == prior.end()) return absl::AbortedError("an idempotent twin vanished during the submit; retry");
    out[i] = it->second.request_hash == jobs[i].request_hash
                 ? absl::StatusOr<CreateResult>(CreateResult{it->second, false})
                 : IdempotencyConflict(jobs[i], it->second);
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (twin_of[i] < 0) continue;
    const absl::StatusOr<CreateResult>& first = out[twin_of[i]];
    if (!first.ok()) {
      out[i] = first.status();
    } else if (first->job.request_hash != jobs[i].request_hash) {
      out[i] = IdempotencyConflict(jobs[i], first->job);
    } else {
      out[i] = CreateResult{first->job, false};
    }
  }
  for (const auto& r : out) {
    if (!r.ok() || !r->created) continue;
    LogEvent(spdlog::level::info, "job transition",
             {{"job_id", r->job.id}, {"from", "none"}, {"to", "queued"}, {"operation", r->job.operation}});
    Notify(r->job);
  }
  return out;
}

}  // namespace imagen::jobs::pg
