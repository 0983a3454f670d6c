// Google Benchmark over the standardized workloads: a thin shim. The
// workloads are the C ones of workloads.c, run unchanged; this file only
// reads the clock in their phase hooks and reports.
//
// One benchmark family per workload phase and design, named as
// results/FORMAT.md says ("free_regrow.regrow/list"), with one Arg per N,
// SetComplexityN and Complexity() (when at least two sizes run). A design
// that cannot run a workload is skipped with SkipWithError(reason). Families and sizes come from the
// registries, never from a list kept here.
//
// Timing: a phase is timed with the monotonic clock between its begin and
// end hooks, minus its pauses (the frees between worst_scan's grows); the
// rest of a run is setup and is not timed (UseManualTime). So that a
// measurement spans enough operations whatever N is, each benchmark
// iteration runs the workload k times and reports the mean phase time per
// run; k is chosen by the first repetition so that one measurement costs
// about --mm_target_ms of CPU, setup included. The family runs one such
// iteration per repetition (Iterations(1)), so `make bench` controls its
// own budget: a size where a single run costs more than --mm_max_run_ms is
// skipped ("not timed", with the cost), and so are the larger ones; the
// smallest size of each family is always timed.
//
// Counters (kAvgIterations, per run of the workload): ops (of the phase),
// ns_per_op, buckets_new, buckets_reused (of the run), and the phase's space
// figures as results/FORMAT.md names them: pages_end, header_bytes_written,
// heap_bytes (dirty_pages needs a counting memory, which would slow the
// timed accesses: scripts/count-instructions takes it from a run of its own).
//
// Flags (before Google Benchmark's own):
//   --mm_workloads=a,b  --mm_designs=a,b  --mm_sizes=1024,4096
//   --mm_target_ms=T    CPU per measurement (5)
//   --mm_max_run_ms=M   skip sizes where one run costs more (250)
//   --mm_max_resident=B skip sizes that would commit more than B bytes (2 GiB)
//   --mm_skip=FILE      skip the runs listed there ("w/d/n<TAB>reason")
#include <benchmark/benchmark.h>

#include "workloads.h"

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

struct Options {
    std::vector<std::string> workloads, designs;
    // "workload/design/n" -> why it is not run (--mm_skip).
    std::map<std::string, std::string> skip;
    std::vector<int64_t> sizes{1024, 4096, 16384, 32768};
    double target_ms = 5, max_run_ms = 250;
    uint64_t max_resident = 2ull << 30;
};

// The clock of one phase: begin..end minus pause..resume.
struct PhaseClock {
    unsigned phase;
    double ns = 0;
    timespec t0{};

    static double since(const timespec &t0) {
        timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return double(t.tv_sec - t0.tv_sec) * 1e9 + double(t.tv_nsec - t0.tv_nsec);
    }
    static void start(void *ctx, unsigned phase) {
        auto *c = static_cast<PhaseClock *>(ctx);
        if (phase == c->phase) clock_gettime(CLOCK_MONOTONIC, &c->t0);
    }
    static void stop(void *ctx, unsigned phase) {
        auto *c = static_cast<PhaseClock *>(ctx);
        if (phase == c->phase) c->ns += since(c->t0);
    }
    static void begin(void *ctx, unsigned phase, mm *) { start(ctx, phase); }
    static void end(void *ctx, unsigned phase, uint64_t) { stop(ctx, phase); }
};

bool listed(const std::vector<std::string> &names, const char *name) {
    if (names.empty()) return true;
    for (const auto &n : names)
        if (n == name) return true;
    return false;
}

// Why w cannot run on design at n here, or "" when it can.
std::string why_not(const mm_workload *w, const std::string &design, uint64_t n,
                    const Options &opt) {
    char why[320];
    if (!mm_workload_applicable(w, design.c_str(), n, why, sizeof why)) return why;
    if (w->resident_bytes(n) > opt.max_resident) {
        char a[32], b[32], c[32];
        std::snprintf(why, sizeof why, "not run: %s at N = %s would commit %s MiB of RAM, "
                      "over the budget of %s MiB", w->name, mm_workload_grouped(a, n),
                      mm_workload_grouped(b, w->resident_bytes(n) >> 20),
                      mm_workload_grouped(c, opt.max_resident >> 20));
        return why;
    }
    auto it = opt.skip.find(std::string(w->name) + "/" + design + "/" + std::to_string(n));
    return it == opt.skip.end() ? "" : it->second;
}

double cpu_seconds() {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

// How many runs of the workload one measurement takes, per family and N,
// decided by the first repetition: enough for --mm_target_ms of CPU, or 0
// (with the reason) when one run costs more than --mm_max_run_ms. A family
// over budget at some N is not run at larger N.
struct Plan {
    uint64_t runs = 0;
    std::string why_not;
};
std::map<std::string, Plan> plans;
std::map<std::string, std::string> over_budget;  // family -> why, once some N was too dear
std::map<std::string, bool> timed;               // family -> some N was timed

void run_phase(benchmark::State &st, const mm_workload *w, unsigned phase,
               const std::string &design, const Options &opt) {
    const uint64_t n = uint64_t(st.range(0));
    const std::string family = std::string(w->name) + "." + w->phases[phase] + "/" + design;
    Plan &plan = plans[family + "/" + std::to_string(n)];
    std::string why = why_not(w, design, n, opt);
    if (why.empty() && over_budget.count(family)) why = over_budget[family];
    if (why.empty()) why = plan.why_not;
    if (!why.empty()) st.SkipWithError(why.c_str());
    double ops = 0, ns_per_op = 0, buckets_new = 0, buckets_reused = 0, pages_end = 0,
           header_bytes = 0, heap_bytes = 0;
    for (auto _ : st) {
        PhaseClock clock{phase};
        mm_wl_hooks hooks{&clock, PhaseClock::begin, PhaseClock::end, PhaseClock::stop,
                          PhaseClock::start};
        mm_wl_params params{};
        params.design = design.c_str();
        params.n = n;
        params.seed = 1;
        mm_wl_result r{};
        uint64_t phase_ops = 0, done = 0;
        for (; done == 0 || done < plan.runs; done++) {
            double t0 = cpu_seconds();
            mm_wl_status status = mm_workload_run(w, &params, &hooks, &r);
            if (status != MM_WL_OK) {
                // n/a found while running (a design that ran out of buckets).
                std::string msg = status == MM_WL_NA ? std::string(r.reason)
                                                     : std::string("failed: ") + r.reason;
                plan.why_not = msg;
                st.SkipWithError(msg.c_str());
                break;
            }
            phase_ops += r.phase_ops[phase];
            if (plan.runs) continue;
            double ms = (cpu_seconds() - t0) * 1e3;
            // The smallest size a family runs is timed whatever it costs:
            // Google Benchmark 1.7 crashes fitting a family with no run.
            if (ms > opt.max_run_ms && timed[family]) {
                char buf[200], a[32], b[32], c[32];
                std::snprintf(buf, sizeof buf, "not timed: one run at N = %s took %s ms of "
                              "CPU, over the budget of %s ms (--mm_max_run_ms)",
                              mm_workload_grouped(a, n),
                              mm_workload_grouped(b, (unsigned long long)(ms + 0.5)),
                              mm_workload_grouped(c, (unsigned long long)(opt.max_run_ms + 0.5)));
                plan.why_not = over_budget[family] = buf;
                st.SkipWithError(buf);
                break;
            }
            plan.runs = uint64_t(std::min(10000.0, std::max(1.0, opt.target_ms / ms)));
            timed[family] = true;
        }
        if (st.error_occurred()) break;
        st.SetIterationTime(clock.ns / 1e9 / double(done));
        ops += double(phase_ops) / double(done);
        ns_per_op += clock.ns / double(phase_ops);
        buckets_new += double(r.record.buckets_new);
        buckets_reused += double(r.record.buckets_reused);
        pages_end += double(r.phase_space[phase].pages_end);
        header_bytes += double(r.phase_space[phase].header_bytes_written);
        heap_bytes += double(r.phase_space[phase].heap_bytes);
    }
    if (st.error_occurred()) return;
    st.SetComplexityN(int64_t(n));
    using C = benchmark::Counter;
    st.counters["ops"] = C(ops, C::kAvgIterations);
    st.counters["ns_per_op"] = C(ns_per_op, C::kAvgIterations);
    st.counters["buckets_new"] = C(buckets_new, C::kAvgIterations);
    st.counters["buckets_reused"] = C(buckets_reused, C::kAvgIterations);
    st.counters["pages_end"] = C(pages_end, C::kAvgIterations);
    st.counters["header_bytes_written"] = C(header_bytes, C::kAvgIterations);
    st.counters["heap_bytes"] = C(heap_bytes, C::kAvgIterations);
}

std::vector<std::string> split(const char *s) {
    std::vector<std::string> out;
    std::string cur;
    for (; *s; s++) {
        if (*s == ',') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur += *s;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

// Lines "workload/design/n<TAB>reason": runs another harness found too
// costly (scripts/count-instructions --budget), skipped with that reason.
void read_skips(const char *path, std::map<std::string, std::string> *skip) {
    std::FILE *f = std::fopen(path, "r");
    if (!f) {
        std::fprintf(stderr, "gbench: cannot read --mm_skip file %s\n", path);
        std::exit(2);
    }
    char line[1024];
    while (std::fgets(line, sizeof line, f)) {
        std::string l(line);
        while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
        size_t tab = l.find('\t');
        if (tab != std::string::npos) (*skip)[l.substr(0, tab)] = l.substr(tab + 1);
    }
    std::fclose(f);
}

// Takes our --mm_* flags out of argv; exits 2 on a bad one.
Options parse(int *argc, char **argv) {
    Options opt;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        auto value = [&](const char *flag) -> const char * {
            size_t len = std::strlen(flag);
            return std::strncmp(a, flag, len) == 0 && a[len] == '=' ? a + len + 1 : nullptr;
        };
        auto number = [&](const char *v) {
            char *end;
            unsigned long long x = std::strtoull(v, &end, 10);
            if (!*v || *end || x == 0) {
                std::fprintf(stderr, "gbench: '%s' needs a positive number\n", a);
                std::exit(2);
            }
            return uint64_t(x);
        };
        if (const char *v = value("--mm_workloads")) {
            opt.workloads = split(v);
        } else if (const char *v = value("--mm_designs")) {
            opt.designs = split(v);
        } else if (const char *v = value("--mm_sizes")) {
            opt.sizes.clear();
            for (const auto &s : split(v)) opt.sizes.push_back(int64_t(number(s.c_str())));
        } else if (const char *v = value("--mm_target_ms")) {
            opt.target_ms = double(number(v));
        } else if (const char *v = value("--mm_max_run_ms")) {
            opt.max_run_ms = double(number(v));
        } else if (const char *v = value("--mm_max_resident")) {
            opt.max_resident = number(v);
        } else if (const char *v = value("--mm_skip")) {
            read_skips(v, &opt.skip);
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    for (const auto &w : opt.workloads)
        if (!mm_workload_find(w.c_str())) {
            std::fprintf(stderr, "gbench: no workload is named '%s'\n", w.c_str());
            std::exit(2);
        }
    for (const auto &d : opt.designs)
        if (d != MM_WL_NO_DESIGN && !mm_design_find(d.c_str())) {
            std::fprintf(stderr, "gbench: no design is named '%s'\n", d.c_str());
            std::exit(2);
        }
    return opt;
}

// Reports runs under the names of results/FORMAT.md: Google Benchmark
// appends "/iterations:1/manual_time" to every name of such a family, and
// the key is "workload.phase/design/n".
template <class Reporter>
class FormatNames : public Reporter {
   public:
    using Reporter::Reporter;
    void ReportRuns(const std::vector<benchmark::BenchmarkReporter::Run> &runs) override {
        std::vector<benchmark::BenchmarkReporter::Run> named(runs);
        for (auto &r : named) {
            r.run_name.iterations.clear();
            r.run_name.time_type.clear();
        }
        Reporter::ReportRuns(named);
    }
};

bool has_flag(int argc, char **argv, const char *prefix) {
    for (int i = 1; i < argc; i++)
        if (std::strncmp(argv[i], prefix, std::strlen(prefix)) == 0) return true;
    return false;
}

}  // namespace

int main(int argc, char **argv) {
    static Options opt = parse(&argc, argv);
    size_t families = 0;
    for (size_t wi = 0; wi < mm_workload_count(); wi++) {
        const mm_workload *w = mm_workload_get(wi);
        if (!listed(opt.workloads, w->name)) continue;
        std::vector<std::string> designs;
        if (w->raw) {
            designs.push_back(MM_WL_NO_DESIGN);
        } else {
            for (size_t di = 0; di < mm_design_count(); di++)
                if (listed(opt.designs, mm_design_get(di)->name))
                    designs.push_back(mm_design_get(di)->name);
        }
        for (unsigned ph = 0; ph < w->nphases; ph++)
            for (const auto &d : designs) {
                std::string name = std::string(w->name) + "." + w->phases[ph] + "/" + d;
                auto *b = benchmark::RegisterBenchmark(
                    name.c_str(), [w, ph, d](benchmark::State &st) {
                        run_phase(st, w, ph, d, opt);
                    });
                size_t runnable = 0;
                for (int64_t n : opt.sizes) {
                    b->Arg(n);
                    runnable += why_not(w, d, uint64_t(n), opt).empty();
                }
                b->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
                // A fit needs two sizes (and run_phase times at least one).
                if (runnable >= 2) b->Complexity();
                families++;
            }
    }
    if (!families) {
        std::fprintf(stderr, "gbench: no benchmark matches the --mm_ filters\n");
        return 2;
    }
    bool to_file = has_flag(argc, argv, "--benchmark_out=");
    bool json = has_flag(argc, argv, "--benchmark_format=json");
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    FormatNames<benchmark::ConsoleReporter> console;
    FormatNames<benchmark::JSONReporter> json_display, file;
    benchmark::BenchmarkReporter *display = json ? static_cast<benchmark::BenchmarkReporter *>(
                                                       &json_display)
                                                 : &console;
    if (to_file)
        benchmark::RunSpecifiedBenchmarks(display, &file);
    else
        benchmark::RunSpecifiedBenchmarks(display);
    benchmark::Shutdown();
    return 0;
}
