package io.streamdetour.tls;

import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Reloads the configured certificate and key when their files change (a renewal writes new
 * ones in place), so new handshakes present the new certificate without a restart. A pair
 * that does not load (half written, key not matching) is logged and the old one stays.
 */
public final class TlsFileWatcher implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(TlsFileWatcher.class);

  private final Vertx vertx;
  private final Path certificate;
  private final Path key;
  private final Consumer<TlsIdentity> replace;
  private final long timerId;
  private byte[] lastDigest;

  private TlsFileWatcher(Vertx vertx, Path certificate, Path key, long periodMillis, Consumer<TlsIdentity> replace) {
    this.vertx = vertx;
    this.certificate = certificate;
    this.key = key;
    this.replace = replace;
    this.lastDigest = digest();
    this.timerId = vertx.setPeriodic(periodMillis, id -> vertx.executeBlocking(() -> {
      check();
      return null;
    }, false));
  }

  public static TlsFileWatcher start(Vertx vertx, Path certificate, Path key, long periodMillis,
      Consumer<TlsIdentity> replace) {
    return new TlsFileWatcher(vertx, certificate, key, periodMillis, replace);
  }

  private void check() {
    byte[] now = digest();
    if (now == null || Arrays.equals(now, lastDigest)) {
      return;
    }
    try {
      TlsIdentity identity = TlsIdentity.fromPem(certificate, key);
      replace.accept(identity);
      lastDigest = now;
      LOG.info("certificate reloaded from {}: {}; new connections use it", certificate,
          identity.chain().get(0).getSubjectX500Principal());
    } catch (Exception e) {
      // Retried on the next change of either file; a renewal may still be writing them.
      LOG.error("certificate files changed but do not load ({}); the previous certificate stays", e.getMessage());
      lastDigest = now;
    }
  }

  private byte[] digest() {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(Files.readAllBytes(certificate));
      sha.update(Files.readAllBytes(key));
      return sha.digest();
    } catch (Exception e) {
      LOG.warn("cannot read {} or {}: {}", certificate, key, e.toString());
      return null;
    }
  }

  @Override
  public void close() {
    vertx.cancelTimer(timerId);
  }
}
