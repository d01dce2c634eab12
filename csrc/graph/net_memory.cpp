// graph/net_memory.cpp: memory reuse for a net that only runs forward (Net::enable_memory_reuse).
// Host memory only: on the GPU the blobs keep their own device buffers and only the order applies.
//
// The order. The prototxt's order is one valid order; the deploy net's, for one, pools conv1_1 for
// the hypercolumn only after fc7, so conv1_1 would stay alive through the whole net. Forward instead
// runs a list schedule of the same dependencies: a layer runs after the last layer before it (in the
// prototxt) that wrote a buffer it reads or writes, and a layer that writes a buffer after every
// earlier reader of that buffer. Among the layers that are ready, one that is the last reader of an
// arena buffer (so frees it) goes first, then the earliest in the prototxt.
//
// Blobs that share a buffer (a Split's tops, a Reshape's, an in-place layer's) form one group; a
// group is live from the first layer that writes it to the last layer that reads it, both included
// (a layer reads its bottoms while it writes its tops, so their lifetimes overlap there). Groups
// whose lifetimes overlap get disjoint byte ranges of one arena, placed largest first at the lowest
// offset that fits (the greedy plan of inference frameworks). Inputs, outputs, the kept blobs and
// any group holding a parameter's buffer (a Parameter layer's top) keep their own memory. For the
// authors' deploy net at 512x512 the activations drop from about 490 MB to the largest live set.
#include <algorithm>
#include <map>

#include "common.h"
#include "net.h"

namespace pycolorize {

Net::MemoryGroups Net::memory_groups() const {
  MemoryGroups out;
  std::map<const SyncedMemory*, int> index;
  for (int b = 0; b < (int)blobs_.size(); ++b) {
    auto it = index.emplace(blobs_[b]->data().get(), static_cast<int>(out.members.size())).first;
    if (it->second == (int)out.members.size()) out.members.emplace_back();
    out.members[it->second].push_back(b);
    out.of.push_back(it->second);
  }
  out.reusable.assign(out.members.size(), true);
  for (const auto* ids : {&input_blobs_, &output_blobs_, &keep_})
    for (int b : *ids) out.reusable[out.of[b]] = false;
  for (const auto& p : params_) {
    auto it = index.find(p->data().get());
    if (it != index.end()) out.reusable[it->second] = false;
  }
  return out;
}

void Net::enable_memory_reuse(const std::vector<std::string>& keep) {
  PYC_CHECK(!reuse_, "net '", name_, "' reuses memory already");
  PYC_CHECK(phase_ == Phase::TEST, "reuse_memory: net '", name_, "' is a TRAIN net; memory reuse (and the reordering "
            "that comes with it, which would change the order of Dropout's random draws) is for TEST nets");
  for (int i = 0; i < num_layers(); ++i)
    PYC_CHECK(!layer_need_backward_[i], "reuse_memory: layer '", layer_names_[i], "' of net '", name_,
              "' needs a backward pass, which reads the forward's blobs; memory reuse is for nets that only "
              "run forward (a TEST net without force_backward)");
  for (const auto& k : keep) {
    const int b = blob_index(k);
    PYC_CHECK(b >= 0, "reuse_memory: net '", name_, "' has no blob '", k, "' to keep",
              std::find(removed_blobs_.begin(), removed_blobs_.end(), k) != removed_blobs_.end()
                  ? " (the hypercolumn projection pass removed it; build the net with optimize=False to keep it)" : "");
    keep_.push_back(b);
  }
  reshape();  // the groups follow the shares that reshape sets up
  const MemoryGroups groups = memory_groups();
  for (size_t g = 0; g < groups.members.size(); ++g)
    if (groups.reusable[g])
      for (int b : groups.members[g]) reused_blobs_.push_back(blob_names_[b]);
  exec_order_ = schedule(groups);
  reuse_ = true;
}

std::vector<int> Net::schedule(const MemoryGroups& groups) const {
  const int L = num_layers();
  const size_t G = groups.members.size();
  auto groups_of = [&](const std::vector<int>& ids) {
    std::vector<int> out;
    for (int b : ids) out.push_back(groups.of[b]);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  };
  std::vector<std::vector<int>> reads(L), writes(L), deps(L);
  std::vector<int> last_writer(G, -1);
  std::vector<std::vector<int>> readers_since(G);
  std::vector<int> pending(G, 0);  // accesses not yet scheduled, per group
  for (int i = 0; i < L; ++i) {
    reads[i] = groups_of(bottom_ids_[i]);
    writes[i] = groups_of(top_ids_[i]);
    for (int g : reads[i])
      if (last_writer[g] >= 0) deps[i].push_back(last_writer[g]);
    for (int g : writes[i]) {
      if (last_writer[g] >= 0) deps[i].push_back(last_writer[g]);
      for (int r : readers_since[g])
        if (r != i) deps[i].push_back(r);
    }
    for (int g : reads[i]) readers_since[g].push_back(i), ++pending[g];
    for (int g : writes[i]) last_writer[g] = i, readers_since[g].clear();
  }
  std::vector<int> waiting(L), order;
  std::vector<std::vector<int>> unblocks(L);
  for (int i = 0; i < L; ++i) {
    std::sort(deps[i].begin(), deps[i].end());
    deps[i].erase(std::unique(deps[i].begin(), deps[i].end()), deps[i].end());
    waiting[i] = static_cast<int>(deps[i].size());
    for (int d : deps[i]) unblocks[d].push_back(i);
  }
  std::vector<bool> ready(L, false), done(L, false);
  for (int i = 0; i < L; ++i) ready[i] = waiting[i] == 0;
  for (int n = 0; n < L; ++n) {
    int pick = -1;
    for (int i = 0; i < L && pick < 0; ++i)  // the earliest ready layer that frees an arena buffer
      if (ready[i] && !done[i])
        for (int g : reads[i])
          if (groups.reusable[g] && pending[g] == 1) pick = i;
    for (int i = 0; i < L && pick < 0; ++i)
      if (ready[i] && !done[i]) pick = i;
    PYC_CHECK(pick >= 0, "net '", name_, "': no layer is ready to run (a dependency cycle?)");
    done[pick] = true;
    order.push_back(pick);
    for (int g : reads[pick]) --pending[g];
    for (int j : unblocks[pick])
      if (--waiting[j] == 0) ready[j] = true;
  }
  return order;
}

void Net::plan_memory() {
  const MemoryGroups mg = memory_groups();
  const auto& groups = mg.members;
  const auto& group_of = mg.of;
  const int G = static_cast<int>(groups.size());
  std::vector<int> first(G, num_layers()), last(G, -1);  // positions in exec_order_
  std::vector<size_t> bytes(G, 0);
  for (int t = 0; t < (int)exec_order_.size(); ++t) {
    const int i = exec_order_[t];
    for (int b : top_ids_[i]) first[group_of[b]] = std::min(first[group_of[b]], t), last[group_of[b]] = std::max(last[group_of[b]], t);
    for (int b : bottom_ids_[i]) last[group_of[b]] = std::max(last[group_of[b]], t);
  }
  for (int g = 0; g < G; ++g)
    for (int b : groups[g]) bytes[g] = std::max(bytes[g], (static_cast<size_t>(blobs_[b]->count()) * sizeof(float) + 63) / 64 * 64);
  std::vector<int> order;
  for (int g = 0; g < G; ++g)
    if (mg.reusable[g] && bytes[g] && last[g] >= first[g]) order.push_back(g);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return bytes[a] > bytes[b]; });
  std::vector<size_t> offset(G, 0);
  std::vector<int> placed;
  size_t total = 0;
  for (int g : order) {
    // the lowest offset clear of every placed group that is live at the same time
    std::vector<std::pair<size_t, size_t>> busy;
    for (int h : placed)
      if (first[h] <= last[g] && first[g] <= last[h]) busy.push_back({offset[h], offset[h] + bytes[h]});
    std::sort(busy.begin(), busy.end());
    size_t at = 0;
    for (const auto& [lo, hi] : busy) {
      if (at + bytes[g] <= lo) break;
      at = std::max(at, hi);
    }
    offset[g] = at;
    total = std::max(total, at + bytes[g]);
    placed.push_back(g);
  }
  std::shared_ptr<void> arena;
  if (total) {
    check_host_alloc(total, str("the memory-reuse arena of net '", name_, "'"));
    void* p = std::aligned_alloc(64, total);
    PYC_CHECK(p, "out of host memory allocating the memory-reuse arena of net '", name_, "' (", total, " bytes)");
    arena = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  }
  for (int g : placed) {
    auto mem = std::make_shared<SyncedMemory>(bytes[g], arena, offset[g]);
    for (int b : groups[g]) blobs_[b]->set_data_memory(mem);
  }
  arena_bytes_ = total;
  planned_counts_.clear();
  for (const auto& b : blobs_) planned_counts_.push_back(b->count());
}

}  // namespace pycolorize
