/* Only the record layouts of l7trace_abi.h (via include/); SwiftPM needs a source file. */
#include "l7trace_abi.h"
