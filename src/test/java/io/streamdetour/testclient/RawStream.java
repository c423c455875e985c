package io.streamdetour.testclient;

import tech.kwik.core.QuicStream;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One stream of a {@link RawSession} for fault tests. Reads are bounded: a virtual thread, started by the first
 * read, pumps what arrives into a queue, so a read that times out leaves the stream usable for the next one.
 * Reading is meant for one test thread at a time.
 */
public final class RawStream {

    private static final int PUMP_BUFFER = 16 * 1024;

    private final QuicStream stream;
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private boolean pumping;
    private byte[] pending = new byte[0];
    private Event end;

    RawStream(QuicStream stream) {
        this.stream = stream;
    }

    public QuicStream quicStream() {
        return stream;
    }

    public void write(byte[] bytes) throws IOException {
        GuardedWrites.write(stream.getOutputStream(), bytes);
    }

    /** Finishes the send side (FIN). */
    public void finish() throws IOException {
        GuardedWrites.finish(stream.getOutputStream());
    }

    /** RESET_STREAM with this code. */
    public void reset(long code) {
        stream.resetStream(code);
    }

    /** STOP_SENDING with this code; later reads fail. */
    public void abortReading(long code) {
        stream.abortReading(code);
    }

    /** Exactly {@code length} bytes; EOFException if the stream ends first, IOException if it is reset. */
    public byte[] read(int length, Duration timeout) throws IOException, TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        ByteArrayOutputStream collected = new ByteArrayOutputStream(length);
        while (collected.size() < length) {
            Event event = next(deadline);
            if (event == null) {
                unread(collected.toByteArray());
                throw new TimeoutException("read " + collected.size() + " of " + length + " bytes within " + timeout);
            }
            if (event instanceof Event.Data data) {
                int take = Math.min(length - collected.size(), data.bytes.length);
                collected.write(data.bytes, 0, take);
                unread(Arrays.copyOfRange(data.bytes, take, data.bytes.length));
            } else {
                throw endAsException(event, collected.size(), length);
            }
        }
        return collected.toByteArray();
    }

    /** Everything up to EOF; IOException if the stream is reset, TimeoutException if it does not end in time. */
    public byte[] readAll(Duration timeout) throws IOException, TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        ByteArrayOutputStream collected = new ByteArrayOutputStream();
        while (true) {
            Event event = next(deadline);
            if (event == null) {
                unread(collected.toByteArray());
                throw new TimeoutException("no end of stream within " + timeout + ", " + collected.size() + " bytes read");
            }
            if (event instanceof Event.Data data) {
                collected.writeBytes(data.bytes);
            } else if (event instanceof Event.End) {
                return collected.toByteArray();
            } else {
                throw endAsException(event, collected.size(), -1);
            }
        }
    }

    /** Waits for up to 4 bytes (a reply) and tells how the server reacted. */
    public StreamOutcome awaitOutcome(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        ByteArrayOutputStream collected = new ByteArrayOutputStream(4);
        while (collected.size() < 4) {
            Event event = next(deadline);
            if (event instanceof Event.Data data) {
                int take = Math.min(4 - collected.size(), data.bytes.length);
                collected.write(data.bytes, 0, take);
                unread(Arrays.copyOfRange(data.bytes, take, data.bytes.length));
            } else if (collected.size() > 0) {
                break;
            } else if (event == null) {
                return StreamOutcome.silent();
            } else if (event instanceof Event.Failed failed) {
                return StreamOutcome.reset(failed.error.toString());
            } else {
                return StreamOutcome.reset("finished without a reply");
            }
        }
        return StreamOutcome.reply(collected.toByteArray());
    }

    private Event next(long deadline) {
        if (pending.length > 0) {
            Event data = new Event.Data(pending);
            pending = new byte[0];
            return data;
        }
        if (end != null) {
            return end;
        }
        startPump();
        try {
            Event event = events.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (event != null && !(event instanceof Event.Data)) {
                end = event;
            }
            return event;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private void unread(byte[] bytes) {
        if (bytes.length > 0) {
            byte[] joined = Arrays.copyOf(bytes, bytes.length + pending.length);
            System.arraycopy(pending, 0, joined, bytes.length, pending.length);
            pending = joined;
        }
    }

    private void startPump() {
        if (pumping) {
            return;
        }
        pumping = true;
        Thread.ofVirtual().name("raw-stream-" + stream.getStreamId()).start(() -> {
            InputStream in = stream.getInputStream();
            byte[] buffer = new byte[PUMP_BUFFER];
            try {
                int read;
                while ((read = in.read(buffer)) >= 0) {
                    events.add(new Event.Data(Arrays.copyOf(buffer, read)));
                }
                events.add(new Event.End());
            } catch (IOException e) {
                events.add(new Event.Failed(e));
            }
        });
    }

    private static IOException endAsException(Event event, int got, int wanted) {
        String read = wanted < 0 ? got + " bytes" : got + " of " + wanted + " bytes";
        if (event instanceof Event.Failed failed) {
            return new IOException("stream failed after " + read + ": " + failed.error, failed.error);
        }
        return new EOFException("stream ended after " + read);
    }

    private sealed interface Event {
        record Data(byte[] bytes) implements Event {
        }

        record End() implements Event {
        }

        record Failed(IOException error) implements Event {
        }
    }
}
