package dev.allot.stock;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** One shared Jackson mapper (thread-safe once configured) and small helpers. */
public final class Json {
  public static final ObjectMapper MAPPER = new ObjectMapper()
      .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
      .configure(DeserializationFeature.FAIL_ON_TRAILING_TOKENS, true)
      // The same field twice is malformed (API.md, General): no parser differential on "last one wins".
      .configure(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION, true);
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  /**
   * Reads trees with the mapper's settings; made once, so a read does not look the target type and its
   * deserializer up again (ObjectMapper.readTree does, and it showed in the reservation path's profile).
   */
  public static final ObjectReader TREES = MAPPER.readerFor(JsonNode.class);

  private Json() {
  }

  public static ObjectNode object() {
    return NODES.objectNode();
  }

  public static ArrayNode array() {
    return NODES.arrayNode();
  }

  public static String write(JsonNode node) {
    try {
      return MAPPER.writeValueAsString(node);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static byte[] bytes(JsonNode node) {
    try {
      return MAPPER.writeValueAsBytes(node);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static JsonNode read(String s) {
    try {
      return TREES.readTree(s);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A problem document (RFC 9457) as API.md shapes it: type, title, status, detail, code. The
   * refusals a reservation stores for its idempotent replay are such documents, so the one builder
   * lives here; the HTTP layer uses it for every other error.
   */
  public static ObjectNode problem(int status, String code, String detail) {
    ObjectNode p = object();
    p.put("type", "urn:allot:problem:" + code);
    p.put("title", code.replace('_', ' '));
    p.put("status", status);
    p.put("detail", detail);
    p.put("code", code);
    return p;
  }

  /** A short, stable fingerprint of a canonical request text (for idempotency comparisons). */
  public static String fingerprint(String canonical) {
    // A flash sale's requests are one cart over and over (the same channel, TTL and line): the last
    // text this thread hashed, and its fingerprint, answer it again without SHA-256.
    String[] last = LAST.get();
    if (canonical.equals(last[0])) {
      return last[1];
    }
    byte[] d = SHA256.get().digest(canonical.getBytes(StandardCharsets.UTF_8));
    String fp = HEX.formatHex(d, 0, 16);
    last[0] = canonical;
    last[1] = fp;
    return fp;
  }

  /** Per thread: the last canonical text fingerprinted and its fingerprint. */
  private static final ThreadLocal<String[]> LAST = ThreadLocal.withInitial(() -> new String[2]);

  private static final HexFormat HEX = HexFormat.of();
  /** One digest per thread, reused (digest() resets it): looking the algorithm up per request showed in the profile. */
  private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  });
}
