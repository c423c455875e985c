package io.streamdetour.testclient;

import java.util.Map;

/**
 * One run of the quinn client.
 *
 * @param summary  the key=value pairs of the last stdout line
 * @param timedOut the run was killed at its timeout
 */
public record QuinnResult(int exitCode, Map<String, String> summary, String stdout, String stderr, boolean timedOut) {

    public QuinnResult {
        summary = Map.copyOf(summary);
    }

    /** {@code result=pass} and exit status 0. */
    public boolean passed() {
        return exitCode == 0 && "pass".equals(summary.get("result"));
    }

    /** A numeric summary value; a missing key fails with the whole output, to see why. */
    public long getLong(String key) {
        return Long.parseLong(get(key));
    }

    public String get(String key) {
        String value = summary.get(key);
        if (value == null) {
            throw new IllegalStateException("no '" + key + "' in the summary; " + this);
        }
        return value;
    }

    @Override
    public String toString() {
        return "exit " + exitCode + (timedOut ? " (timed out)" : "") + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr;
    }
}
