// `imagen keys`: create, list and revoke API keys and rotate their webhook
// secrets in a data folder's job store. Works while `imagen serve` runs on
// the same folder (SQLite WAL, busy timeout); a revoked key is refused by the
// server's next lookup. Webhook secrets are sealed under the same secret key
// as the server's (IMAGEN_SECRET_KEY or DIR/secret.key).
#include <memory>
#include <stdexcept>
#include <string>

#include "absl/time/time.h"
#include "cmd/commands.h"
#include "common/clock.h"
#include "common/env.h"
#include "fmt/core.h"
#include "jobs/api_keys.h"
#include "jobs/job_store.h"
#include "jobs/secret_box.h"
#include "nlohmann/json.hpp"

namespace imagen {

namespace {

struct KeysFlags {
  std::string data_dir = "./data";
  std::string name;
  std::string rate = "0";  // "R" or "R/s"
  int max_concurrent = 0;
  int max_priority = 0;
  int64_t max_queued = 0;
  bool json = false;
  std::string key;  // revoke, rotate-webhook-secret: id or id prefix
  double grace_hours = 24;
};

absl::StatusOr<std::unique_ptr<jobs::JobStore>> OpenStore(const std::string& data_dir) {
  Env* env = Env::Default();
  if (absl::Status s = env->CreateDirs(data_dir); !s.ok()) return s;
  auto store = jobs::JobStore::Open(data_dir + "/jobs.db", Clock::Real());
  if (!store.ok()) return store;
  auto box = jobs::SecretBox::FromEnvOrFile(data_dir);
  if (!box.ok()) return box.status();
  if (absl::Status s = (*store)->UseSecretBox(std::move(*box)); !s.ok()) return s;
  return store;
}

int Create(const KeysFlags& f) {
  auto store = OpenStore(f.data_dir);
  if (!store.ok()) {
    fmt::print(stderr, "imagen keys create: {}\n", std::string(store.status().message()));
    return 1;
  }
  std::string rate_text = f.rate;
  if (rate_text.size() > 2 && rate_text.substr(rate_text.size() - 2) == "/s") rate_text.resize(rate_text.size() - 2);
  double rate = 0;
  try {
    size_t used = 0;
    rate = std::stod(rate_text, &used);
    if (used != rate_text.size() || rate < 0) throw std::invalid_argument("rate");
  } catch (const std::exception&) {
    fmt::print(stderr, "imagen keys create: --rate expects a number of requests per second, got '{}'\n", f.rate);
    return 2;
  }
  auto key = jobs::CreateApiKey(store->get(), {.name = f.name,
                                               .rate = rate,
                                               .max_concurrent = f.max_concurrent,
                                               .max_priority = f.max_priority,
                                               .max_queued = f.max_queued});
  if (!key.ok()) {
    fmt::print(stderr, "imagen keys create: {}\n", std::string(key.status().message()));
    return 2;
  }
  if (f.json) {
    fmt::print("{}\n", nlohmann::json{{"key", key->token}, {"webhook_secret", key->record.webhook_secret}}.dump());
  } else {
    fmt::print(
        "API key '{}' ({}) created. Both values are shown only once:\n  key:            {}\n"
        "  webhook secret: {}\n",
        f.name, key->record.id, key->token, key->record.webhook_secret);
  }
  return 0;
}

int List(const KeysFlags& f) {
  auto store = OpenStore(f.data_dir);
  if (!store.ok()) {
    fmt::print(stderr, "imagen keys list: {}\n", std::string(store.status().message()));
    return 1;
  }
  auto keys = (*store)->ListKeys();
  if (!keys.ok()) {
    fmt::print(stderr, "imagen keys list: {}\n", std::string(keys.status().message()));
    return 1;
  }
  for (const auto& k : *keys) {
    fmt::print("{}  {:<20} rate={} max_concurrent={} max_priority={} max_queued={}{}{}\n", k.id, k.name, k.rate,
               k.max_concurrent, k.max_priority, k.max_queued, k.admin ? " admin" : "", k.revoked_at ? " revoked" : "");
  }
  return 0;
}

int Revoke(const KeysFlags& f) {
  auto store = OpenStore(f.data_dir);
  if (!store.ok()) {
    fmt::print(stderr, "imagen keys revoke: {}\n", std::string(store.status().message()));
    return 1;
  }
  auto key = (*store)->RevokeKey(f.key);
  if (!key.ok()) {
    fmt::print(stderr, "imagen keys revoke: {}\n", std::string(key.status().message()));
    return absl::IsNotFound(key.status()) || absl::IsInvalidArgument(key.status()) ? 2 : 1;
  }
  fmt::print("API key '{}' ({}) revoked\n", key->name, key->id);
  return 0;
}

int RotateSecret(const KeysFlags& f) {
  auto store = OpenStore(f.data_dir);
  if (!store.ok()) {
    fmt::print(stderr, "imagen keys rotate-webhook-secret: {}\n", std::string(store.status().message()));
    return 1;
  }
  auto key = jobs::RotateWebhookSecret(store->get(), f.key, absl::Seconds(f.grace_hours * 3600));
  if (!key.ok()) {
    fmt::print(stderr, "imagen keys rotate-webhook-secret: {}\n", std::string(key.status().message()));
    return absl::IsNotFound(key.status()) || absl::IsInvalidArgument(key.status()) ? 2 : 1;
  }
  std::string until = absl::FormatTime(absl::RFC3339_sec, *key->previous_secret_until, absl::UTCTimeZone());
  if (f.json) {
    fmt::print("{}\n",
               nlohmann::json{
                   {"key_id", key->id}, {"webhook_secret", key->webhook_secret}, {"previous_secret_valid_until", until}}
                   .dump());
  } else {
    fmt::print(
        "webhook secret of '{}' ({}) rotated. The new secret is shown only once:\n  webhook secret: {}\n"
        "Deliveries are signed with the new and the previous secret until {} (two v1, signatures in "
        "webhook-signature), then with the new one only.\n",
        key->name, key->id, key->webhook_secret, until);
  }
  return 0;
}

}  // namespace

void AddKeysCommand(CLI::App& app, int* rc) {
  CLI::App* keys = app.add_subcommand("keys", "Create, list and revoke API keys; rotate webhook secrets");
  keys->require_subcommand(1);
  auto flags = std::make_shared<KeysFlags>();
  CLI::App* create = keys->add_subcommand("create", "Create an API key; prints it and its webhook secret once");
  create->add_option("--data-dir", flags->data_dir, "data folder of imagen serve (default ./data)");
  create->add_option("--name", flags->name, "a name for the key")->required();
  create->add_option("--rate", flags->rate, "submissions per second, R or R/s (0: the server default)");
  create->add_option("--max-concurrent", flags->max_concurrent, "running jobs at once (0: unlimited)")
      ->check(CLI::NonNegativeNumber);
  create
      ->add_option("--max-priority", flags->max_priority,
                   "priorities up to this go before other keys' jobs (0: they order only this key's jobs)")
      ->check(CLI::Range(0, 100));
  create->add_option("--max-queued", flags->max_queued, "queued jobs at once (0: the server's jobs.max_queued_per_key)")
      ->check(CLI::NonNegativeNumber);
  create->add_flag("--json", flags->json, "print {\"key\":...,\"webhook_secret\":...} only");
  create->callback([rc, flags] { *rc = Create(*flags); });
  CLI::App* list = keys->add_subcommand("list", "List API keys (names and limits; never the keys)");
  list->add_option("--data-dir", flags->data_dir, "data folder of imagen serve (default ./data)");
  list->callback([rc, flags] { *rc = List(*flags); });
  CLI::App* revoke = keys->add_subcommand("revoke", "Revoke an API key at once (by id or a unique id prefix)");
  revoke->add_option("key", flags->key, "the key's id (key_...) or a unique prefix of it")->required();
  revoke->add_option("--data-dir", flags->data_dir, "data folder of imagen serve (default ./data)");
  revoke->callback([rc, flags] { *rc = Revoke(*flags); });
  CLI::App* rotate = keys->add_subcommand(
      "rotate-webhook-secret", "Give a key a new webhook secret; the old one keeps signing for a grace period");
  rotate->add_option("key", flags->key, "the key's id (key_...) or a unique prefix of it")->required();
  rotate->add_option("--data-dir", flags->data_dir, "data folder of imagen serve (default ./data)");
  rotate->add_option("--grace-hours", flags->grace_hours, "hours the old secret keeps signing too (default 24)")
      ->check(CLI::NonNegativeNumber);
  rotate->add_flag("--json", flags->json, "print {\"key_id\",\"webhook_secret\",\"previous_secret_valid_until\"} only");
  rotate->callback([rc, flags] { *rc = RotateSecret(*flags); });
}

}  // namespace imagen
