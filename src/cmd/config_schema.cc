#include "cmd/config_schema.h"

namespace imagen {

const ConfigSchema& ImagenConfigSchema() {
  static const ConfigSchema* schema = [] {
    auto* s = new ConfigSchema();
    s->Add({.name = "data_dir",
            .default_value = "./data",
            .description = "Folder for the embedded job store, blobs and keys."});
    s->Add({.name = "server.listen",
            .default_value = "127.0.0.1:8080",
            .description = "HOST:PORT of the REST API, web UI and /metrics."});
    s->Add({.name = "server.http_threads",
            .type = ConfigType::kInt,
            .default_value = "2",
            .description = "I/O threads of the HTTP server.",
            .min = 1,
            .max = 256});
    s->Add({.name = "server.body_limit_bytes",
            .type = ConfigType::kInt,
            .default_value = "67108864",
            .description = "Largest accepted request body; larger ones get 413.",
            .min = 1024,
            .max = 4294967296.0});
    s->Add({.name = "server.shutdown_grace_seconds",
            .type = ConfigType::kDouble,
            .default_value = "10",
            .description = "How long SIGTERM waits for in-flight requests and jobs.",
            .min = 0,
            .max = 3600});
    s->Add({.name = "workers",
            .type = ConfigType::kInt,
            .default_value = "2",
            .description = "Worker threads in `imagen serve`.",
            .min = 0,
            .max = 1024});
    s->Add({.name = "log.level",
            .default_value = "info",
            .description = "Log level.",
            .choices = {"trace", "debug", "info", "warn", "error", "off"}});
    s->Add({.name = "log.json",
            .type = ConfigType::kBool,
            .default_value = "false",
            .description = "One JSON object per log line."});
    return s;
  }();
  return *schema;
}

}  // namespace imagen
