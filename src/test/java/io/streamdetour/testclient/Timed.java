package io.streamdetour.testclient;

import java.io.EOFException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Bounds blocking Kwik calls, which have no timeouts of their own, by running them on a virtual thread. */
final class Timed {

    private Timed() {
    }

    /**
     * Runs {@code call} and waits at most {@code timeout} for it. On timeout the thread is interrupted and left
     * to the caller to unblock (Kwik reads end only when the stream is aborted).
     */
    static <T> T call(Duration timeout, Callable<T> call) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread thread = Thread.ofVirtual().start(() -> {
            try {
                result.complete(call.call());
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        try {
            return result.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            thread.interrupt();
            throw e;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }

    /** Reads exactly {@code length} bytes; EOFException if the stream ends first, TimeoutException if slower. */
    static byte[] readExactly(InputStream in, int length, Duration timeout) throws Exception {
        return call(timeout, () -> {
            byte[] bytes = in.readNBytes(length);
            if (bytes.length < length) {
                throw new EOFException("stream ended after " + bytes.length + " of " + length + " bytes");
            }
            return bytes;
        });
    }

    static void sleep(Duration duration) {
        try {
            Thread.sleep(duration);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static boolean join(Thread thread, Duration timeout) {
        try {
            return thread.join(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !thread.isAlive();
        }
    }
}
