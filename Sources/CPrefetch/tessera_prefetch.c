// CPrefetch is header-only; SwiftPM needs one source file per C target.
#include "tessera_prefetch.h"
