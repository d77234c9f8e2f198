package dev.arat.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;

/**
 * DSSE envelopes (secure-systems-lab/dsse v1) signed with Ed25519 (the JDK's own implementation):
 * {@code {"payload": base64, "payloadType": TYPE, "signatures": [{"keyid", "sig": base64}]}}, the
 * signature taken over the pre-authentication encoding {@code PAE(type, payload) = "DSSEv1" SP
 * len(type) SP type SP len(payload) SP payload} (lengths as ASCII decimal byte counts).
 *
 * <p>Keys are PEM files as OpenSSL writes them: {@code openssl genpkey -algorithm ed25519 -out
 * key.pem} (PKCS#8 {@code PRIVATE KEY}) and {@code openssl pkey -in key.pem -pubout -out
 * key.pub.pem} (X.509 {@code PUBLIC KEY}). The key id is the SHA-256 (hex) of the public key's DER
 * encoding.
 */
public final class Dsse {
  /** The payload type of an in-toto statement. */
  public static final String IN_TOTO = "application/vnd.in-toto+json";

  private Dsse() {}

  /** The pre-authentication encoding of {@code payload} under {@code type}. */
  static byte[] pae(String type, byte[] payload) {
    byte[] t = type.getBytes(StandardCharsets.UTF_8);
    byte[] head =
        ("DSSEv1 " + t.length + " " + type + " " + payload.length + " ")
            .getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[head.length + payload.length];
    System.arraycopy(head, 0, out, 0, head.length);
    System.arraycopy(payload, 0, out, head.length, payload.length);
    return out;
  }

  /** An envelope of {@code payload} signed with {@code key}, whose public half is {@code pub}. */
  public static ObjectNode sign(byte[] payload, String type, PrivateKey key, PublicKey pub) {
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initSign(key);
      s.update(pae(type, payload));
      ObjectNode env = Json.object();
      env.put("payload", Base64.getEncoder().encodeToString(payload));
      env.put("payloadType", type);
      ObjectNode sig = env.putArray("signatures").addObject();
      sig.put("keyid", keyId(pub));
      sig.put("sig", Base64.getEncoder().encodeToString(s.sign()));
      return env;
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "cannot sign with this key (an Ed25519 private key is needed): " + e.getMessage(), e);
    }
  }

  /**
   * Whether one of the envelope's signatures verifies with {@code pub}.
   *
   * @throws IllegalArgumentException when the envelope is malformed
   */
  public static boolean verify(JsonNode env, PublicKey pub) {
    byte[] payload = payload(env);
    String type = text(env, "payloadType");
    JsonNode sigs = env.get("signatures");
    if (sigs == null || !sigs.isArray() || sigs.isEmpty()) {
      throw new IllegalArgumentException("the envelope has no signatures");
    }
    for (JsonNode s : sigs) {
      try {
        Signature v = Signature.getInstance("Ed25519");
        v.initVerify(pub);
        v.update(pae(type, payload));
        if (v.verify(Base64.getDecoder().decode(text(s, "sig")))) {
          return true;
        }
      } catch (GeneralSecurityException | IllegalArgumentException e) {
        // a malformed or foreign signature does not verify; try the next
      }
    }
    return false;
  }

  /** The decoded payload of an envelope. */
  static byte[] payload(JsonNode env) {
    try {
      return Base64.getDecoder().decode(text(env, "payload"));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the envelope's payload is not base64", e);
    }
  }

  private static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null || !v.isTextual()) {
      throw new IllegalArgumentException("the envelope has no '" + field + "'");
    }
    return v.asText();
  }

  /** SHA-256 (hex) of the public key's DER (X.509 SubjectPublicKeyInfo) encoding. */
  public static String keyId(PublicKey pub) {
    return Hashes.sha256(pub.getEncoded());
  }

  /** Reads a PKCS#8 PEM Ed25519 private key ({@code -----BEGIN PRIVATE KEY-----}). */
  public static PrivateKey readPrivateKey(Path pem) {
    try {
      return KeyFactory.getInstance("Ed25519")
          .generatePrivate(new PKCS8EncodedKeySpec(der(pem, "PRIVATE KEY")));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(
          pem + " is not an Ed25519 private key (PKCS#8 PEM): " + e.getMessage(), e);
    }
  }

  /** Reads an X.509 PEM Ed25519 public key ({@code -----BEGIN PUBLIC KEY-----}). */
  public static PublicKey readPublicKey(Path pem) {
    try {
      return KeyFactory.getInstance("Ed25519")
          .generatePublic(new X509EncodedKeySpec(der(pem, "PUBLIC KEY")));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(
          pem + " is not an Ed25519 public key (X.509 PEM): " + e.getMessage(), e);
    }
  }

  /** The public key of an Ed25519 private key read from PEM. */
  public static PublicKey publicOf(PrivateKey key) {
    // PKCS#8 v2 may carry the public key; otherwise derive it: Ed25519 public = scalar-mult of the
    // seed
    try {
      byte[] der = key.getEncoded();
      byte[] seed = java.util.Arrays.copyOfRange(der, der.length - 32, der.length);
      java.security.KeyPairGenerator g = java.security.KeyPairGenerator.getInstance("Ed25519");
      g.initialize(new java.security.spec.NamedParameterSpec("Ed25519"), new FixedRandom(seed));
      return g.generateKeyPair().getPublic();
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot derive the public key: " + e.getMessage(), e);
    }
  }

  /** Writes keys as PEM ({@code PRIVATE KEY} / {@code PUBLIC KEY}). */
  public static void writePem(Path file, java.security.Key key) {
    String type = key instanceof PrivateKey ? "PRIVATE KEY" : "PUBLIC KEY";
    String body =
        Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
            .encodeToString(key.getEncoded());
    try {
      Files.writeString(
          file, "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  private static byte[] der(Path pem, String type) {
    String text;
    try {
      text = Files.readString(pem, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read key file " + pem + ": " + e.getMessage(), e);
    }
    String begin = "-----BEGIN " + type + "-----";
    String end = "-----END " + type + "-----";
    int a = text.indexOf(begin);
    int b = text.indexOf(end);
    if (a < 0 || b < a) {
      throw new IllegalArgumentException(
          pem + " is not a PEM '" + type + "' file (expected a '" + begin + "' block)");
    }
    try {
      return Base64.getMimeDecoder().decode(text.substring(a + begin.length(), b));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(pem + ": the PEM block is not base64", e);
    }
  }

  /** A "random" source that returns a fixed seed: derives an Ed25519 key pair from its seed. */
  private static final class FixedRandom extends java.security.SecureRandom {
    private final byte[] seed;

    FixedRandom(byte[] seed) {
      this.seed = seed.clone();
    }

    @Override
    public void nextBytes(byte[] bytes) {
      System.arraycopy(seed, 0, bytes, 0, Math.min(seed.length, bytes.length));
    }
  }
}
