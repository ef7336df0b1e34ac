package dev.allot.stock;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class JsonTest {
  static String sha(String text) throws Exception {
    byte[] d = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    return HexFormat.of().formatHex(d, 0, 16);
  }

  @Test
  @DisplayName("a fingerprint is the text's SHA-256 prefix, whatever text this thread fingerprinted before")
  void fingerprintAfterOthers() throws Exception {
    String a = "v1|web|600||BENCH-HOT=1";
    String b = "v1|web|600||BENCH-HOT=2";
    // The same text again (the cached answer), another, the first again, a copy of it (equal, not the same object).
    for (String text : List.of(a, a, b, a, new String(a.toCharArray()), b, b, "", a)) {
      assertEquals(sha(text), Json.fingerprint(text), text);
    }
  }
}
