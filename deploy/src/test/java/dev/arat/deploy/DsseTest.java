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
    assertArrayEquals("DSSEv1 29 http://example.com/HelloWorld 11 hello world".getBytes(StandardCharsets.UTF_8),
        Dsse.pae("http://example.com/HelloWorld", "hello world".getBytes(StandardCharsets.UTF_8)));
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
    assertFalse(Dsse.verify(env, KeyPairGenerator.getInstance("Ed25519").generateKeyPair().getPublic()));
    ObjectNode otherType = env.deepCopy();
    otherType.put("payloadType", "application/json");
    assertFalse(Dsse.verify(otherType, pub), "the type is signed too");
    ObjectNode otherPayload = env.deepCopy();
    otherPayload.put("payload", java.util.Base64.getEncoder().encodeToString("{\"a\":2}".getBytes(
        StandardCharsets.UTF_8)));
    assertFalse(Dsse.verify(otherPayload, pub));
  }
}
