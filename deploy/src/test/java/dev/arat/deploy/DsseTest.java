package dev.arat.deploy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** DSSE envelopes with Ed25519. */
class DsseTest {
  @Test
  void paeIsTheSpecsEncoding() {
    // the example of the DSSE protocol document
    assertArrayEquals(
        "DSSEv1 29 http://example.com/HelloWorld 11 hello world".getBytes(StandardCharsets.UTF_8),
        Dsse.pae("http://example.com/HelloWorld", "hello world".getBytes(StandardCharsets.UTF_8)));
  }

  /** A throw-away test key made with OpenSSL 3.0 ({@code openssl genpkey -algorithm ed25519}). */
  static final String OPENSSL_KEY =
      "-----BEGIN PRIVATE KEY-----\n"
          + "MC4CAQAwBQYDK2VwBCIEIF7KYWHO1a1pvbwTntaf7bEKz7I+gWLb7z60IGOsKn3Y\n-----END PRIVATE KEY-----\n";

  /** Its public half ({@code openssl pkey -pubout}). */
  static final String OPENSSL_PUB =
      "-----BEGIN PUBLIC KEY-----\n"
          + "MCowBQYDK2VwAyEAE2JU3OkQFu5j5IAkLHY48GU6ZFcgnVFJyChnimEwOLA=\n-----END PUBLIC KEY-----\n";

  @Test
  void readsOpenSslKeysAndVerifiesAnOpenSslSignature(@TempDir Path dir) throws Exception {
    java.nio.file.Files.writeString(dir.resolve("key.pem"), OPENSSL_KEY);
    java.nio.file.Files.writeString(dir.resolve("key.pub.pem"), OPENSSL_PUB);
    PublicKey pub = Dsse.readPublicKey(dir.resolve("key.pub.pem"));
    assertEquals(
        Dsse.keyId(pub), Dsse.keyId(Dsse.publicOf(Dsse.readPrivateKey(dir.resolve("key.pem")))));
    // openssl pkeyutl -sign -inkey key.pem -rawin -in PAE(in-toto type, {"a":1})
    ObjectNode env = Json.object();
    env.put(
        "payload",
        java.util.Base64.getEncoder().encodeToString("{\"a\":1}".getBytes(StandardCharsets.UTF_8)));
    env.put("payloadType", Dsse.IN_TOTO);
    env.putArray("signatures")
        .addObject()
        .put("keyid", "")
        .put(
            "sig",
            "TWMWsMp22pTfqcOnSlHRPhBnSNx46o38LgczMrKmBS6cJwZpsyRBwfQSY0QTGtRPwfalVGtzL+HHrVXZ4tvBBA==");
    assertTrue(Dsse.verify(env, pub));
    // Ed25519 is deterministic: our signature of the same bytes is OpenSSL's
    ObjectNode ours =
        Dsse.sign(
            "{\"a\":1}".getBytes(StandardCharsets.UTF_8),
            Dsse.IN_TOTO,
            Dsse.readPrivateKey(dir.resolve("key.pem")),
            pub);
    assertEquals(env.get("signatures").get(0).get("sig"), ours.get("signatures").get(0).get("sig"));
  }

  @Test
  void signsAndVerifiesThroughPemFiles(@TempDir Path dir) throws Exception {
    KeyPair kp = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    Dsse.writePem(dir.resolve("key.pem"), kp.getPrivate());
    Dsse.writePem(dir.resolve("key.pub.pem"), kp.getPublic());
    PrivateKey key = Dsse.readPrivateKey(dir.resolve("key.pem"));
    PublicKey pub = Dsse.readPublicKey(dir.resolve("key.pub.pem"));
    assertEquals(Dsse.keyId(kp.getPublic()), Dsse.keyId(Dsse.publicOf(key)));

    byte[] payload = "{\"a\":1}".getBytes(StandardCharsets.UTF_8);
    ObjectNode env = Dsse.sign(payload, Dsse.IN_TOTO, key, pub);
    assertTrue(Dsse.verify(env, pub));
    assertEquals(Dsse.keyId(pub), env.get("signatures").get(0).get("keyid").asText());
    assertFalse(
        Dsse.verify(env, KeyPairGenerator.getInstance("Ed25519").generateKeyPair().getPublic()));
    ObjectNode otherType = env.deepCopy();
    otherType.put("payloadType", "application/json");
    assertFalse(Dsse.verify(otherType, pub), "the type is signed too");
    ObjectNode otherPayload = env.deepCopy();
    otherPayload.put(
        "payload",
        java.util.Base64.getEncoder().encodeToString("{\"a\":2}".getBytes(StandardCharsets.UTF_8)));
    assertFalse(Dsse.verify(otherPayload, pub));
  }
}
