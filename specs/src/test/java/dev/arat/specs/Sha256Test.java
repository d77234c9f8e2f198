package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Sha256Test {
  @Test
  void fileDigestsAreTheStandardOnesAcrossBlockBoundaries(@TempDir Path dir) throws IOException {
    Path abc = dir.resolve("abc");
    Files.writeString(abc, "abc", StandardCharsets.US_ASCII);
    // FIPS 180-2 test vector
    assertEquals(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Sha256.ofFile(abc));
    Path empty = dir.resolve("empty");
    Files.write(empty, new byte[0]);
    assertEquals(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Sha256.ofFile(empty));
    // one million 'a' (FIPS 180-2): several 64 KiB blocks
    Path million = dir.resolve("million");
    Files.writeString(million, "a".repeat(1_000_000), StandardCharsets.US_ASCII);
    assertEquals(
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", Sha256.ofFile(million));
    assertThrows(IOException.class, () -> Sha256.ofFile(dir.resolve("missing")));
  }
}
