package io.streamdetour.testclient;

import io.streamdetour.edge.kwik.KwikSendStallGuard;

import java.io.IOException;
import java.io.OutputStream;

/** The client's writes on Kwik streams, covered by the server's guard against Kwik's send stall. */
final class GuardedWrites {

    private GuardedWrites() {
    }

    static void write(OutputStream out, byte[] bytes, int length) throws IOException {
        KwikSendStallGuard.watch(out);
        out.write(bytes, 0, length);
        KwikSendStallGuard.watch(out);
    }

    static void write(OutputStream out, byte[] bytes) throws IOException {
        write(out, bytes, bytes.length);
    }

    static void finish(OutputStream out) throws IOException {
        out.close();
        KwikSendStallGuard.watch(out);
    }
}
