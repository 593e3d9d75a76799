// PgQueue: opening, API keys, reads and submission (the commit group).
#include "jobs/pg_queue.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
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
  ASSIGN_OR_RETURN(auto apool, PgPool::Open(options.uri, options.async_pool_size, "SET synchronous_commit = off"));
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
          "INSERT INTO api_keys(id,name,key_hash,webhook_secret,rate,max_concurrent,admin,created_at) "
          "VALUES($1,$2,$3,$4,$5,$6,$7,('epoch'::timestamptz + $8::int8 * interval '1 us'))",
          PgParams()
              .Text(k.id)
              .Text(k.name)
              .Text(k.key_hash)
              .Text(k.webhook_secret)
              .Double(k.rate)
              .Int(k.max_concurrent)
              .Bool(k.admin)
              .Int(absl::ToUnixMicros(k.created_at)))
      .status();
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
  ASSIGN_OR_RETURN(auto r, c->Exec(absl::StrCat("SELECT ", internal::KeyColumns(), " FROM api_keys WHERE key_hash=$1"),
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

}  // namespace

// One transaction: inline inputs, the input-ref share locks (see
// SweepFinished), earlier twins of idempotency keys, the fair-queuing clock
// of each key (one upsert per key), one multi-row INSERT, one NOTIFY.
absl::StatusOr<std::vector<absl::StatusOr<CreateResult>>> PgQueue::CreateBatch(const std::vector<NewJob>& jobs) {
  std::vector<absl::StatusOr<CreateResult>> out(jobs.size(), absl::UnknownError("not submitted"));
  if (jobs.empty()) return out;
  const int64_t now = NowUs();
  auto c = pool_->Acquire();
  PgTx tx(c.get());
  RETURN_IF_ERROR(tx.Begin());

  // Share locks on every input ref of the group first (in hash order, as the
  // sweeper takes them, so the two cannot deadlock), then inline inputs.
  std::vector<std::string> refs;
  for (const NewJob& nj : jobs) refs.push_back(nj.input_ref);
  std::sort(refs.begin(), refs.end());
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  RETURN_IF_ERROR(c->Exec("SELECT count(pg_advisory_xact_lock_shared(hashtextextended(r, 0))) "
                          "FROM (SELECT r FROM unnest($1::text[]) r ORDER BY hashtextextended(r, 0)) x",
                          PgParams().TextArray(refs))
                      .status());
  std::vector<std::string_view> stored;
  for (const NewJob& nj : jobs) {
    if (nj.inline_input.empty() || std::find(stored.begin(), stored.end(), nj.input_ref) != stored.end()) continue;
    stored.push_back(nj.input_ref);
    RETURN_IF_ERROR(c->Exec("INSERT INTO inline_inputs(ref,data) VALUES($1,$2) ON CONFLICT (ref) DO NOTHING",
                            PgParams().Text(nj.input_ref).Bytes(nj.inline_input))
                        .status());
  }

  // Idempotency keys already used (by earlier transactions).
  absl::flat_hash_map<std::string, Job> prior;
  auto lookup_prior = [&](const std::vector<std::string>& keys, const std::vector<std::string>& idems) -> absl::Status {
    if (keys.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(auto r, c->Exec(absl::StrCat("SELECT ", JobColumns("j"),
                                                  " FROM jobs j JOIN unnest($1::text[], $2::text[]) AS t(k, i) "
                                                  "ON j.key_id=t.k AND j.idempotency_key=t.i"),
                                     PgParams().TextArray(keys).TextArray(idems)));
    for (int i = 0; i < r.Rows(); ++i) {
      Job j = RowToJob(r, i);
      prior[IdemKey(j.key_id, j.idempotency_key)] = std::move(j);
    }
    return absl::OkStatus();
  };
  {
    std::vector<std::string> keys, idems;
    for (const NewJob& nj : jobs) {
      if (nj.idempotency_key.empty()) continue;
      keys.push_back(nj.key_id);
      idems.push_back(nj.idempotency_key);
    }
    RETURN_IF_ERROR(lookup_prior(keys, idems));
  }

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
  // Keys are locked in sorted order, so concurrent groups cannot deadlock.
  std::map<std::string, int> per_key;  // key -> jobs it inserts
  for (int i : inserting) per_key[jobs[i].key_id]++;
  absl::flat_hash_map<std::string, std::pair<int64_t, int64_t>> key_vt;  // key -> {start, step}
  for (const auto& [key_id, n] : per_key) {
    ASSIGN_OR_RETURN(
        auto r,
        c->Exec(
            "WITH b AS (SELECT coalesce((SELECT vt FROM jobs WHERE state='queued' AND NOT blocked ORDER BY vt LIMIT 1),"
            "                           (SELECT max(last_vt) FROM key_sched), 0) AS base),"
            " w AS (SELECT coalesce((SELECT weight FROM api_keys WHERE id=$1), 1) AS weight) "
            "INSERT INTO key_sched AS k (key_id, weight, last_vt) "
            "SELECT $1, w.weight, b.base + $2::bigint * ($3::bigint / w.weight) FROM b, w "
            "ON CONFLICT (key_id) DO UPDATE SET last_vt = greatest(k.last_vt, excluded.last_vt - $2::bigint * "
            "($3::bigint / excluded.weight)) + $2::bigint * ($3::bigint / k.weight) "
            "RETURNING k.last_vt, $3::bigint / k.weight",
            PgParams().Text(key_id).Int(n).Int(kVtQuantum)));
    int64_t step = r.Int(0, 1);
    key_vt[key_id] = {r.Int(0, 0) - n * step, step};
  }

  // One INSERT and one NOTIFY for the group.
  std::vector<std::string> ids, keys, ops, params, input_refs, input_types, priorities, vts, max_attempts, deadlines,
      webhooks, idems, hashes;
  for (int i : inserting) {
    const NewJob& nj = jobs[i];
    auto& [next_vt, step] = key_vt[nj.key_id];
    ids.push_back(RandomHexId("job_", 12));
    keys.push_back(nj.key_id);
    ops.push_back(nj.operation);
    params.push_back(nj.params_json.empty() ? "{}" : nj.params_json);
    input_refs.push_back(nj.input_ref);
    input_types.push_back(nj.input_type);
    priorities.push_back(absl::StrCat(nj.priority));
    vts.push_back(absl::StrCat(next_vt));
    next_vt += step;
    max_attempts.push_back(absl::StrCat(std::max(1, nj.max_attempts)));
    deadlines.push_back(nj.deadline ? absl::StrCat(absl::ToUnixMicros(*nj.deadline)) : "");
    webhooks.push_back(nj.webhook_url);
    idems.push_back(nj.idempotency_key);
    hashes.push_back(nj.request_hash);
  }
  absl::flat_hash_map<std::string, Job> inserted;  // by id
  if (!inserting.empty()) {
    ASSIGN_OR_RETURN(
        auto r,
        c->Exec(absl::StrCat(
                    "WITH ins AS (INSERT INTO "
                    "jobs(id,key_id,operation,params,input_ref,input_type,state,priority,vt,max_attempts,"
                    "created_at,updated_at,run_after,deadline_at,webhook_url,idempotency_key,request_hash) "
                    "SELECT t.id,t.k,t.op,t.params,t.iref,t.itype,'queued',t.prio,t.vt,t.maxa,('epoch'::timestamptz + "
                    "$14::int8 * interval '1 us'),"
                    "('epoch'::timestamptz + $14::int8 * interval '1 us'),('epoch'::timestamptz + $14::int8 * interval "
                    "'1 us'),('epoch'::timestamptz + t.deadline * interval '1 us'),t.hook,t.idem,t.hash "
                    "FROM unnest($1::text[],$2::text[],$3::text[],$4::text[],$5::text[],$6::text[],$7::int[],"
                    "$8::bigint[],$9::int[],$10::bigint[],$11::text[],$12::text[],$13::text[]) "
                    "AS t(id,k,op,params,iref,itype,prio,vt,maxa,deadline,hook,idem,hash) "
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
                    .Text(kWorkChannel)));
    for (int i = 0; i < r.Rows(); ++i) {
      Job j = RowToJob(r, i);
      std::string id = j.id;
      inserted.emplace(std::move(id), std::move(j));
    }
  }
  // Members whose idempotency key a concurrent transaction took first: that
  // twin has committed by now (ON CONFLICT waited for it).
  std::vector<std::string> late_keys, late_idems;
  for (size_t n = 0; n < inserting.size(); ++n) {
    if (inserted.contains(ids[n])) continue;
    late_keys.push_back(keys[n]);
    late_idems.push_back(idems[n]);
  }
  RETURN_IF_ERROR(lookup_prior(late_keys, late_idems));
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
  RETURN_IF_ERROR(tx.Commit());
  for (const auto& r : out) {
    if (!r.ok() || !r->created) continue;
    LogEvent(spdlog::level::info, "job transition",
             {{"job_id", r->job.id}, {"from", "none"}, {"to", "queued"}, {"operation", r->job.operation}});
    Notify(r->job);
  }
  return out;
}

}  // namespace imagen::jobs::pg
