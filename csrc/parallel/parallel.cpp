// parallel/parallel.cpp
#include "parallel/parallel.h"

#include "common.h"

namespace pycolorize {
namespace parallel {

namespace {
int g_rank = 0, g_world = 1;
}

int rank() { return g_rank; }
int world_size() { return g_world; }

void set_shard(int rank, int world_size) {
  PYC_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "set_shard: rank ", rank, " of ", world_size,
            " ranks is not a rank");
  g_rank = rank;
  g_world = world_size;
}

}  // namespace parallel
}  // namespace pycolorize
