package io.streamdetour.loadgen;

/** What every session of a run shares: the settings, the counters and the header templates. */
record SessionContext(Settings settings, RunStats stats, DetourHeaders headers) {
}
