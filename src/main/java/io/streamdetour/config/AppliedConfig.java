package io.streamdetour.config;

/**
 * A configuration in force and its version: 1 at start, one more for each change applied.
 * Sessions keep the one they started with.
 */
public record AppliedConfig(int version, ServerConfig config) {}
