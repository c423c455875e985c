package io.streamdetour.tls;

import io.streamdetour.config.ServerConfig;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The server's certificate chain and key, as a key store the QUIC edges take. Either read from
 * the configured PEM files or, when none are configured, generated self-signed at start, with
 * its PEM written out for g3proxy's {@code tls_client}.
 */
public record TlsIdentity(
    KeyStore keyStore,
    String alias,
    char[] password,
    String ecCurve,
    List<X509Certificate> chain,
    Path generatedCertificate) {

  private static final String ALIAS = "stream-detour";

  /** The names g3proxy can check: its {@code tls_name}, or the peer IP as a string. */
  public List<String> subjectAltNames() {
    List<String> names = new ArrayList<>();
    try {
      var sans = chain.get(0).getSubjectAlternativeNames();
      if (sans != null) {
        sans.forEach(entry -> names.add(String.valueOf(entry.get(1))));
      }
    } catch (GeneralSecurityException e) {
      // a certificate without readable SANs simply offers none
    }
    return names;
  }

  public static TlsIdentity load(ServerConfig.Tls tls, String listenHost) throws IOException, GeneralSecurityException {
    if (tls.selfSigned()) {
      Set<String> names = new LinkedHashSet<>(List.of("localhost", "127.0.0.1", "::1"));
      if (!listenHost.isBlank() && !isWildcard(listenHost)) {
        names.add(listenHost);
      }
      names.addAll(tls.serverNames());
      return selfSigned(List.copyOf(names), Path.of(tls.generatedDir()));
    }
    return fromPem(Path.of(tls.certificate()), Path.of(tls.privateKey()));
  }

  private static boolean isWildcard(String host) {
    return host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]");
  }

  /** Reads a PEM certificate chain and a PEM private key (PKCS#8, or PKCS#1 RSA, or SEC1 EC). */
  public static TlsIdentity fromPem(Path certificateFile, Path keyFile) throws IOException, GeneralSecurityException {
    List<X509Certificate> chain = new ArrayList<>();
    CertificateFactory factory = CertificateFactory.getInstance("X.509");
    try (var in = Files.newInputStream(certificateFile)) {
      factory.generateCertificates(in).forEach(c -> chain.add((X509Certificate) c));
    }
    if (chain.isEmpty()) {
      throw new GeneralSecurityException("no certificate in " + certificateFile);
    }
    PrivateKey key;
    try (Reader reader = Files.newBufferedReader(keyFile); PEMParser parser = new PEMParser(reader)) {
      Object parsed = parser.readObject();
      JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
      if (parsed instanceof PEMKeyPair pair) {
        // Only the private part: an SEC1 EC key need not carry its public key.
        key = converter.getPrivateKey(pair.getPrivateKeyInfo());
      } else if (parsed instanceof PrivateKeyInfo info) {
        key = converter.getPrivateKey(info);
      } else {
        throw new GeneralSecurityException("no unencrypted private key in " + keyFile);
      }
    }
    return of(key, chain, null);
  }

  /** An EC P-256 certificate valid for a year, for the given DNS names and IP addresses. */
  public static TlsIdentity selfSigned(List<String> names, Path outputDir) throws IOException, GeneralSecurityException {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair pair = generator.generateKeyPair();
    X500Name subject = new X500Name("CN=stream-detour");
    Instant now = Instant.now();
    try {
      var builder = new JcaX509v3CertificateBuilder(subject, new BigInteger(64, new SecureRandom()),
          Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(365))),
          subject, pair.getPublic());
      List<GeneralName> altNames = new ArrayList<>();
      for (String name : names) {
        altNames.add(looksLikeIp(name)
            ? new GeneralName(GeneralName.iPAddress, InetAddress.getByName(name).getHostAddress())
            : new GeneralName(GeneralName.dNSName, name));
      }
      builder.addExtension(Extension.subjectAlternativeName, false,
          new GeneralNames(altNames.toArray(GeneralName[]::new)));
      // An end-entity certificate that g3proxy's tls_client trusts directly as its root;
      // webpki refuses a CA certificate in the server's place (CaUsedAsEndEntity).
      builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      builder.addExtension(Extension.extendedKeyUsage, false,
          new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
      var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate());
      X509Certificate certificate = new JcaX509CertificateConverter().getCertificate(builder.build(signer));
      Files.createDirectories(outputDir);
      Path pem = outputDir.resolve("stream-detour-ca.pem").toAbsolutePath().normalize();
      Files.writeString(pem, toPem(certificate));
      return of(pair.getPrivate(), List.of(certificate), pem);
    } catch (org.bouncycastle.operator.OperatorCreationException e) {
      throw new GeneralSecurityException("cannot sign the self-signed certificate", e);
    }
  }

  private static boolean looksLikeIp(String name) {
    return name.contains(":") || name.chars().allMatch(c -> c == '.' || Character.isDigit(c));
  }

  public static String toPem(X509Certificate certificate) throws IOException {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
      writer.writeObject(certificate);
    }
    return out.toString();
  }

  private static TlsIdentity of(PrivateKey key, List<X509Certificate> chain, Path generated) throws IOException, GeneralSecurityException {
    char[] password = new char[0];
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    store.setKeyEntry(ALIAS, key, password, chain.toArray(X509Certificate[]::new));
    String curve = key instanceof ECKey ec ? curveName(ec) : null;
    return new TlsIdentity(store, ALIAS, password, curve, List.copyOf(chain), generated);
  }

  /** agent15 cannot always tell the curve from the certificate; name the ones it supports. */
  private static String curveName(ECKey key) {
    return switch (key.getParams().getCurve().getField().getFieldSize()) {
      case 256 -> "secp256r1";
      case 384 -> "secp384r1";
      case 521 -> "secp521r1";
      default -> null;
    };
  }
}
