package dev.allot.outbound;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): {@code webhook-signature} is
 * {@code v1,} + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)), the key being the
 * base64-decoded part of the secret after {@code whsec_}. The JDK's HMAC; nothing else.
 */
public final class Signer {
  static final String PREFIX = "whsec_";
  private static final SecureRandom RANDOM = new SecureRandom();

  private final SecretKeySpec key;

  /** secret: {@code whsec_<base64>}; IllegalArgumentException for anything else. */
  public Signer(String secret) {
    if (secret == null || !secret.startsWith(PREFIX)) {
      throw new IllegalArgumentException("a webhook secret starts with " + PREFIX);
    }
    byte[] bytes = Base64.getDecoder().decode(secret.substring(PREFIX.length()));
    if (bytes.length < 16) {
      throw new IllegalArgumentException("a webhook secret has at least 16 bytes");
    }
    this.key = new SecretKeySpec(bytes, "HmacSHA256");
  }

  /** A new secret: 32 random bytes. */
  public static String newSecret() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return PREFIX + Base64.getEncoder().encodeToString(b);
  }

  /** The {@code webhook-signature} header's value for this message. */
  public String sign(String id, long timestampSeconds, String body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      mac.update((id + "." + timestampSeconds + ".").getBytes(StandardCharsets.UTF_8));
      byte[] sig = mac.doFinal(body.getBytes(StandardCharsets.UTF_8));
      return "v1," + Base64.getEncoder().encodeToString(sig);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JDK", e);
    }
  }
}
