package io.streamdetour.testclient;

import tech.kwik.core.QuicStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The relay part of a continue session: deterministic data sent on north and south at once, both echoes read and
 * checked concurrently, on virtual threads. Ends as g3proxy's relay does when {@code endLikeG3}, else each side is
 * finished and read to EOF on its own.
 */
final class DataPhase {

    /** How long stopped readers and writers get to notice; they are unblocked, so this is only a safety net. */
    private static final Duration STOP_GRACE = Duration.ofSeconds(2);
    private static final long STOP_SENDING_CODE = 0;

    private final Direction north;
    private final Direction south;
    private final boolean endLikeG3;
    private final Duration timeout;
    private final AtomicReference<SessionFailure> failure = new AtomicReference<>();
    private volatile Thread[] writers = new Thread[0];

    DataPhase(QuicStream northStream, QuicStream southStream, SessionSpec spec, long seed, Duration timeout) {
        this.north = new Direction("north", northStream, new TestData(2 * seed), spec);
        this.south = new Direction("south", southStream, new TestData(2 * seed + 1), spec);
        this.endLikeG3 = spec.endLikeG3();
        this.timeout = timeout;
    }

    record Outcome(long sentNorth, long sentSouth, long echoedNorth, long echoedSouth,
                   boolean northSha256Equal, boolean southSha256Equal, SessionFailure failure) {
    }

    Outcome run() {
        long deadline = System.nanoTime() + timeout.toNanos();
        Thread northWriter = unstarted(() -> north.send(!endLikeG3));
        Thread southWriter = unstarted(() -> south.send(!endLikeG3));
        Thread northReader = unstarted(north::readEcho);
        Thread southReader = unstarted(south::readEcho);
        writers = new Thread[] {northWriter, southWriter};
        for (Thread thread : new Thread[] {northWriter, southWriter, northReader, southReader}) {
            thread.start();
        }
        if (awaitAll(deadline, northWriter, southWriter) && endLikeG3) {
            finishBoth();
        }
        awaitAll(deadline, northReader);
        if (endLikeG3 && failure.get() == null) {
            south.cut();
        }
        awaitAll(deadline, southReader);
        if (failure.get() == null) {
            verify();
        }
        if (failure.get() != null) {
            stopAll(northWriter, southWriter, northReader, southReader);
        }
        return new Outcome(north.sent, south.sent, north.echo.received(), south.echo.received(),
                north.sha256Equal(), south.sha256Equal(), failure.get());
    }

    private void finishBoth() {
        try {
            north.stream.getOutputStream().close();
            south.stream.getOutputStream().close();
        } catch (IOException e) {
            fail(new SessionFailure(ErrorKind.RELAY_WRITE, "cannot finish the send sides", e));
        }
    }

    private void verify() {
        try {
            north.echo.verifyComplete(north.name);
            if (endLikeG3 && !south.reachedEnd) {
                south.echo.verifyPrefix(south.name);
            } else {
                south.echo.verifyComplete(south.name);
            }
        } catch (SessionFailure e) {
            fail(e);
        }
    }

    private boolean awaitAll(long deadline, Thread... threads) {
        for (Thread thread : threads) {
            Duration left = Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
            if (!Timed.join(thread, left)) {
                fail(new SessionFailure(ErrorKind.RELAY_TIMEOUT, "data phase took longer than " + timeout));
                return false;
            }
        }
        return failure.get() == null;
    }

    /** After an error: as g3proxy on errors, finish both send sides and stop reading. */
    private void stopAll(Thread... threads) {
        for (Thread thread : threads) {
            thread.interrupt();
        }
        north.stream.abortReading(STOP_SENDING_CODE);
        south.stream.abortReading(STOP_SENDING_CODE);
        for (Thread thread : threads) {
            Timed.join(thread, STOP_GRACE);
        }
        closeQuietly(north.stream.getOutputStream());
        closeQuietly(south.stream.getOutputStream());
    }

    private void fail(SessionFailure cause) {
        if (failure.compareAndSet(null, cause)) {
            for (Thread writer : writers) {
                writer.interrupt();
            }
            north.stream.abortReading(STOP_SENDING_CODE);
            south.stream.abortReading(STOP_SENDING_CODE);
        }
    }

    private Thread unstarted(Step step) {
        return Thread.ofVirtual().unstarted(() -> {
            try {
                step.run();
            } catch (SessionFailure e) {
                fail(e);
            }
        });
    }

    private static void closeQuietly(OutputStream out) {
        try {
            GuardedWrites.finish(out);
        } catch (IOException ignored) {
            // the stream is already reset or its connection gone; there is nothing left to finish
        }
    }

    @FunctionalInterface
    private interface Step {
        void run() throws SessionFailure;
    }

    private static final class Direction {

        private final String name;
        private final QuicStream stream;
        private final TestData data;
        private final long length;
        private final int chunkSize;
        private final EchoCheck echo;
        private final MessageDigest sentDigest = Sha256.newDigest();
        private volatile long sent;
        private volatile boolean cut;
        private volatile boolean reachedEnd;
        private byte[] sentSha256;
        private byte[] echoSha256;

        Direction(String name, QuicStream stream, TestData data, SessionSpec spec) {
            this.name = name;
            this.stream = stream;
            this.data = data;
            this.length = spec.bytesEachWay();
            this.chunkSize = spec.chunkSize();
            this.echo = new EchoCheck(data, length);
        }

        void send(boolean finish) throws SessionFailure {
            byte[] chunk = new byte[(int) Math.min(chunkSize, Math.max(1, length))];
            try {
                OutputStream out = stream.getOutputStream();
                while (sent < length) {
                    if (Thread.currentThread().isInterrupted()) {
                        throw new InterruptedIOException("session failed elsewhere");
                    }
                    int size = (int) Math.min(chunk.length, length - sent);
                    data.fill(sent, chunk, size);
                    GuardedWrites.write(out, chunk, size);
                    sentDigest.update(chunk, 0, size);
                    sent += size;
                }
                sentSha256 = sentDigest.digest();
                if (finish) {
                    out.close();
                }
            } catch (IOException e) {
                throw new SessionFailure(ErrorKind.RELAY_WRITE, name + " write failed after " + sent + " bytes", e);
            }
        }

        void readEcho() throws SessionFailure {
            byte[] buffer = new byte[64 * 1024];
            try {
                InputStream in = stream.getInputStream();
                int read;
                while ((read = in.read(buffer)) >= 0) {
                    echo.accept(buffer, read);
                }
                reachedEnd = true;
                echoSha256 = echo.sha256();
            } catch (IOException e) {
                if (!cut) {
                    throw new SessionFailure(ErrorKind.RELAY_READ,
                            name + " read failed after " + echo.received() + " bytes", e);
                }
            }
        }

        /** g3proxy drops this receive side once the relay ends: STOP_SENDING(0). */
        void cut() {
            cut = true;
            stream.abortReading(STOP_SENDING_CODE);
        }

        boolean sha256Equal() {
            return sentSha256 != null && echoSha256 != null && Arrays.equals(sentSha256, echoSha256);
        }
    }
}
