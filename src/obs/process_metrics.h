// The standard Prometheus process_* metrics (the names every client library exports, so that
// stock dashboards and alerts work): CPU time, memory, file descriptors, start time.
// Linux only: sampled from /proc/self on each scrape.
#pragma once

namespace obs {

class Registry;

// Registers process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and
// process_start_time_seconds, refreshed by a collector before each render.
void register_process_metrics(Registry& registry);

}  // namespace obs
