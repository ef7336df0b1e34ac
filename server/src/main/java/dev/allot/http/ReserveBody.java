package dev.allot.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.stock.Json;
import io.vertx.core.buffer.Buffer;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A reserve call's body as its fields, before any rule is checked (ReservationRoutes checks them, the
 * same way whichever way they were read). The body nearly every client sends, of exactly the fields
 * of API.md with the JSON types they have there, is read as it streams, without a tree; anything
 * else (another field, another type, the same field twice, bad JSON) is read as a tree, which
 * keeps every answer as it was: an unknown field ignored, a duplicate or bad JSON 400
 * malformed_json, a field of the wrong type the field's own 400.
 *
 * <p>{@code id}, {@code channel}: the text, or null when missing or not a string. {@code ttl}: null
 * when missing or null, else {@link #NOT_A_NUMBER} when not a whole number that fits a long.
 * {@code lines}: null when missing or not an array. {@code customer}: null when missing or null;
 * {@code customerText} false when present and not a string.
 */
record ReserveBody(String id, String channel, Long ttl, List<Line> lines, String customer, boolean customerText) {
  /** ttlSeconds present but not a whole number (the range check refuses it). */
  static final Long NOT_A_NUMBER = Long.MIN_VALUE;

  /** {@code object}: false when the line is not a JSON object; sku null when missing or not a string; qty null when missing or not a whole number. */
  record Line(boolean object, String sku, Long qty) {
  }

  /** The body's fields: streamed when it has the usual shape, else from its tree. */
  static ReserveBody read(Buffer body) {
    ReserveBody fast = stream(body.getBytes());
    return fast != null ? fast : fromTree(Bodies.object(body));
  }

  static ReserveBody fromTree(JsonNode body) {
    JsonNode ttlNode = body.get("ttlSeconds");
    Long ttl = ttlNode == null || ttlNode.isNull() ? null : wholeOrNot(Bodies.wholeNumber(ttlNode));
    JsonNode linesNode = body.get("lines");
    List<Line> lines = null;
    if (linesNode != null && linesNode.isArray()) {
      lines = new ArrayList<>(linesNode.size());
      for (JsonNode l : linesNode) {
        lines.add(l.isObject() ? new Line(true, Bodies.text(l, "sku"), Bodies.wholeNumber(l.get("qty")))
            : new Line(false, null, null));
      }
    }
    JsonNode cust = body.get("customer");
    boolean absent = cust == null || cust.isNull();
    return new ReserveBody(Bodies.text(body, "id"), Bodies.text(body, "channel"), ttl, lines,
        absent || !cust.isTextual() ? null : cust.asText(), absent || cust.isTextual());
  }

  private static Long wholeOrNot(Long v) {
    return v == null ? NOT_A_NUMBER : v;
  }

  /**
   * The streaming reader's parsers: Jackson's defaults, without the mapper's duplicate detection,
   * which made a detector (and past two fields a set) for every object of every body; the stream
   * finds a field seen twice itself and hands such a body to the tree, which refuses it.
   */
  private static final JsonFactory STREAMING = new JsonFactory();

  /** The usual shape read as it streams, or null for anything else (the tree decides then). */
  static ReserveBody stream(byte[] bytes) {
    try (JsonParser p = STREAMING.createParser(bytes)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      String id = null;
      String channel = null;
      String customer = null;
      Long ttl = null;
      List<Line> lines = null;
      int seen = 0;
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        t = p.nextToken();
        int bit;
        switch (name) {
          case "id" -> {
            bit = 1;
            if (t != JsonToken.VALUE_STRING) {
              return null;
            }
            id = p.getText();
          }
          case "channel" -> {
            bit = 2;
            if (t != JsonToken.VALUE_STRING) {
              return null;
            }
            channel = p.getText();
          }
          case "ttlSeconds" -> {
            bit = 4;
            if (t != JsonToken.VALUE_NULL) {
              ttl = whole(p, t);
              if (ttl == null) {
                return null;
              }
            }
          }
          case "customer" -> {
            bit = 8;
            if (t == JsonToken.VALUE_STRING) {
              customer = p.getText();
            } else if (t != JsonToken.VALUE_NULL) {
              return null;
            }
          }
          case "lines" -> {
            bit = 16;
            lines = lines(p, t);
            if (lines == null) {
              return null;
            }
          }
          default -> {
            return null;
          }
        }
        if ((seen & bit) != 0) {
          return null;
        }
        seen |= bit;
      }
      if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
        return null;
      }
      return new ReserveBody(id, channel, ttl, lines, customer, true);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** An array of objects of sku (a string) and qty (a whole number), each once; else null. */
  private static List<Line> lines(JsonParser p, JsonToken t) throws IOException {
    if (t != JsonToken.START_ARRAY) {
      return null;
    }
    List<Line> lines = new ArrayList<>(2);
    while ((t = p.nextToken()) == JsonToken.START_OBJECT) {
      String sku = null;
      Long qty = null;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        t = p.nextToken();
        if (name.equals("sku") && sku == null && t == JsonToken.VALUE_STRING) {
          sku = p.getText();
        } else if (name.equals("qty") && qty == null) {
          qty = whole(p, t);
          if (qty == null) {
            return null;
          }
        } else {
          return null;
        }
      }
      if (t != JsonToken.END_OBJECT) {
        return null;
      }
      lines.add(new Line(true, sku, qty));
    }
    return t == JsonToken.END_ARRAY ? lines : null;
  }

  /** A whole number that fits a long, else null. */
  private static Long whole(JsonParser p, JsonToken t) throws IOException {
    if (t != JsonToken.VALUE_NUMBER_INT) {
      return null;
    }
    JsonParser.NumberType type = p.getNumberType();
    return type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG ? p.getLongValue() : null;
  }
}
