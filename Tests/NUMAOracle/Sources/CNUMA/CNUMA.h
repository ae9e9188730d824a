// libnuma (Debian's libnuma-dev) for numa-oracle, and accessors for its
// global bitmasks: Swift 6 refuses direct references to mutable C globals.
#include <numa.h>
#include <numaif.h>

static inline struct bitmask *oracle_numa_nodes_ptr(void) { return numa_nodes_ptr; }
static inline struct bitmask *oracle_numa_all_nodes_ptr(void) { return numa_all_nodes_ptr; }
