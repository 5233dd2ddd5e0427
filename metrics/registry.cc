#include "metrics/registry.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <unordered_map>
#include <utility>

namespace cryo::metrics {
namespace {

std::atomic<std::uint64_t> g_next_registry_id{1};

// Label values are joined with a separator that cannot appear in them once bounded below.
constexpr char kSeparator = '\x1f';
constexpr size_t kMaxLabelValue = 128;

std::string series_key(std::initializer_list<std::string_view> values) {
  std::string key;
  bool first = true;
  for (std::string_view v : values) {
    if (!first) key.push_back(kSeparator);
    first = false;
    for (char c : v.substr(0, kMaxLabelValue)) key.push_back(c == kSeparator ? '_' : c);
  }
  return key;
}

std::vector<std::string> split_key(const std::string& key, size_t labels) {
  std::vector<std::string> out;
  if (labels == 0) return out;
  std::string current;
  for (char c : key) {
    if (c == kSeparator) {
      out.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  out.push_back(std::move(current));
  return out;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

void write_labels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out.push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out.push_back(',');
    first = false;
    out += names[i];
    out += "=\"";
    out += escape_label_value(i < values.size() ? values[i] : std::string());
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out.push_back(',');
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out.push_back('"');
  }
  out.push_back('}');
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

enum class Kind { kCounter, kHistogram, kGauge };

struct Registry::Family {
  Kind kind;
  std::string name;
  std::string help;
  std::vector<std::string> label_names;
  std::vector<double> bounds;                         // histograms
  std::function<std::vector<GaugeSample>()> collect;  // gauges
};

struct Registry::Cell {
  double value = 0;                    // counter value, or histogram sum
  std::uint64_t count = 0;             // histogram observations
  std::vector<std::uint64_t> buckets;  // histogram, per bound (not cumulative)
};

// One thread's share of every counter and histogram. The mutex is taken by its own thread
// when recording and by a scrape when merging, so recording threads never wait on each other.
struct Registry::Shard {
  Mutex mu;
  std::unordered_map<const Family*, std::unordered_map<std::string, Cell>> cells GUARDED_BY(mu);
};

Registry::Registry() : id_(g_next_registry_id.fetch_add(1)) {}
Registry::~Registry() = default;

Counter Registry::counter(std::string name, std::string help,
                          std::vector<std::string> label_names) {
  auto f = std::make_unique<Family>(
      Family{Kind::kCounter, std::move(name), std::move(help), std::move(label_names), {}, {}});
  const Family* p = f.get();
  MutexLock lock(mu_);
  families_.push_back(std::move(f));
  return Counter(this, p);
}

Histogram Registry::histogram(std::string name, std::string help,
                              std::vector<std::string> label_names, std::vector<double> bounds) {
  auto f = std::make_unique<Family>(Family{Kind::kHistogram,
                                           std::move(name),
                                           std::move(help),
                                           std::move(label_names),
                                           std::move(bounds),
                                           {}});
  const Family* p = f.get();
  MutexLock lock(mu_);
  families_.push_back(std::move(f));
  return Histogram(this, p);
}

void Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names,
                     std::function<std::vector<GaugeSample>()> collect) {
  auto f = std::make_unique<Family>(Family{Kind::kGauge,
                                           std::move(name),
                                           std::move(help),
                                           std::move(label_names),
                                           {},
                                           std::move(collect)});
  MutexLock lock(mu_);
  families_.push_back(std::move(f));
}

Registry::Shard& Registry::local_shard() {
  // Each thread finds its shard of this registry without any shared lock; the registry's
  // lock is taken once per thread, to add the new shard to the list scrapes merge.
  thread_local std::vector<std::pair<std::uint64_t, std::shared_ptr<Shard>>> mine;
  for (auto& [id, shard] : mine) {
    if (id == id_) return *shard;
  }
  auto shard = std::make_shared<Shard>();
  {
    MutexLock lock(mu_);
    shards_.push_back(shard);
  }
  mine.emplace_back(id_, shard);
  return *shard;
}

void Registry::add(const void* family_ptr, std::initializer_list<std::string_view> label_values,
                   double value) {
  const auto* family = static_cast<const Family*>(family_ptr);
  Shard& shard = local_shard();
  std::string key = series_key(label_values);
  MutexLock lock(shard.mu);
  Cell& cell = shard.cells[family][std::move(key)];
  if (family->kind == Kind::kCounter) {
    cell.value += value;
    return;
  }
  if (cell.buckets.empty()) cell.buckets.assign(family->bounds.size(), 0);
  for (size_t i = 0; i < family->bounds.size(); ++i) {
    if (value <= family->bounds[i]) {
      ++cell.buckets[i];
      break;
    }
  }
  cell.value += value;
  ++cell.count;
}

std::map<std::string, Registry::Cell> Registry::merged(const Family& family) const {
  std::vector<std::shared_ptr<Shard>> shards;
  {
    MutexLock lock(mu_);
    shards = shards_;
  }
  std::map<std::string, Cell> out;
  for (const auto& shard : shards) {
    MutexLock lock(shard->mu);
    auto it = shard->cells.find(&family);
    if (it == shard->cells.end()) continue;
    for (const auto& [key, cell] : it->second) {
      Cell& m = out[key];
      m.value += cell.value;
      m.count += cell.count;
      if (m.buckets.size() < cell.buckets.size()) m.buckets.resize(cell.buckets.size(), 0);
      for (size_t i = 0; i < cell.buckets.size(); ++i) m.buckets[i] += cell.buckets[i];
    }
  }
  return out;
}

void Counter::inc(std::initializer_list<std::string_view> label_values, double amount) const {
  if (amount < 0) return;  // counters only go up
  registry_->add(family_, label_values, amount);
}

void Histogram::observe(std::initializer_list<std::string_view> label_values, double value) const {
  registry_->add(family_, label_values, value);
}

const std::vector<double>& Histogram::bounds() const {
  return static_cast<const Registry::Family*>(family_)->bounds;
}

std::vector<HistogramSeries> Histogram::series() const {
  const auto& family = *static_cast<const Registry::Family*>(family_);
  std::vector<HistogramSeries> out;
  for (const auto& [key, cell] : registry_->merged(family)) {
    HistogramSeries s;
    s.label_values = split_key(key, family.label_names.size());
    std::uint64_t running = 0;
    for (size_t i = 0; i < family.bounds.size(); ++i) {
      running += i < cell.buckets.size() ? cell.buckets[i] : 0;
      s.cumulative.push_back(running);
    }
    s.count = cell.count;
    s.sum = cell.value;
    out.push_back(std::move(s));
  }
  return out;
}

std::string Registry::expose() const {
  std::vector<const Family*> families;
  {
    MutexLock lock(mu_);
    for (const auto& f : families_) families.push_back(f.get());
  }
  std::string out;
  for (const Family* f : families) {
    const char* type = f->kind == Kind::kCounter     ? "counter"
                       : f->kind == Kind::kHistogram ? "histogram"
                                                     : "gauge";
    out += "# HELP " + f->name + " " + escape_help(f->help) + "\n";
    out += "# TYPE " + f->name + " " + type + "\n";
    if (f->kind == Kind::kGauge) {
      for (const GaugeSample& s : f->collect()) {
        out += f->name;
        write_labels(out, f->label_names, s.label_values);
        out += " " + format_number(s.value) + "\n";
      }
      continue;
    }
    for (const auto& [key, cell] : merged(*f)) {
      std::vector<std::string> values = split_key(key, f->label_names.size());
      if (f->kind == Kind::kCounter) {
        out += f->name;
        write_labels(out, f->label_names, values);
        out += " " + format_number(cell.value) + "\n";
        continue;
      }
      std::uint64_t running = 0;
      for (size_t i = 0; i < f->bounds.size(); ++i) {
        running += i < cell.buckets.size() ? cell.buckets[i] : 0;
        out += f->name + "_bucket";
        write_labels(out, f->label_names, values, "le", format_number(f->bounds[i]));
        out += " " + format_number(static_cast<double>(running)) + "\n";
      }
      out += f->name + "_bucket";
      write_labels(out, f->label_names, values, "le", "+Inf");
      out += " " + format_number(static_cast<double>(cell.count)) + "\n";
      out += f->name + "_sum";
      write_labels(out, f->label_names, values);
      out += " " + format_number(cell.value) + "\n";
      out += f->name + "_count";
      write_labels(out, f->label_names, values);
      out += " " + format_number(static_cast<double>(cell.count)) + "\n";
    }
  }
  return out;
}

}  // namespace cryo::metrics
