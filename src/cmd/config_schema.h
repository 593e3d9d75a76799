// The one list of imagen's configuration keys: names, types, defaults,
// ranges and descriptions. `imagen config` prints it; modules receive typed
// option structs built from the loaded Config.
#pragma once

#include "common/config.h"

namespace imagen {

const ConfigSchema& ImagenConfigSchema();

}  // namespace imagen
