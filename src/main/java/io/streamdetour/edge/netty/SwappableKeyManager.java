package io.streamdetour.edge.netty;

import io.streamdetour.tls.TlsIdentity;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The server's certificate and key for BoringSSL, which asks the key manager again at every
 * handshake: replacing the identity here changes what new handshakes present, with no new SSL
 * context and whether or not the client sends SNI. Each identity gets an alias of its own, so a
 * handshake that chose an alias just before a swap still gets the chain and key that belong
 * together.
 */
final class SwappableKeyManager extends X509ExtendedKeyManager {

  private record Material(String alias, X509Certificate[] chain, PrivateKey key) {}

  private final AtomicLong generation = new AtomicLong();
  /** The current identity and the one before it (for a handshake in flight during a swap). */
  private final Map<String, Material> recent = new ConcurrentHashMap<>();
  private volatile Material current;

  SwappableKeyManager(TlsIdentity identity) throws GeneralSecurityException {
    replace(identity);
  }

  void replace(TlsIdentity identity) throws GeneralSecurityException {
    if (!(identity.keyStore().getKey(identity.alias(), identity.password()) instanceof PrivateKey key)) {
      throw new GeneralSecurityException("no private key under alias " + identity.alias());
    }
    Material next = new Material("identity-" + generation.incrementAndGet(), identity.chain().toArray(X509Certificate[]::new), key);
    Material previous = current;
    recent.put(next.alias(), next);
    current = next;
    recent.keySet().removeIf(alias -> !alias.equals(next.alias()) && (previous == null || !alias.equals(previous.alias())));
  }

  private String alias(String keyType) {
    Material m = current;
    String algorithm = m.key().getAlgorithm();
    boolean matches = algorithm.equals(keyType) || keyType.equals("RSA") && algorithm.equals("RSASSA-PSS");
    return matches ? m.alias() : null;
  }

  @Override
  public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
    return alias(keyType);
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return alias(keyType);
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    String alias = alias(keyType);
    return alias == null ? null : new String[] {alias};
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    Material m = recent.get(alias);
    return m == null ? null : m.chain().clone();
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    Material m = recent.get(alias);
    return m == null ? null : m.key();
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    return null;
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    return null;
  }
}
