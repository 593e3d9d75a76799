// Compiled by the layering test against imagen::common only: the include
// below must fail, because common may not depend on http.
#include "http/server.h"
