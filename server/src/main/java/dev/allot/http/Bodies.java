package dev.allot.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.stock.AllotException;
import dev.allot.stock.Json;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.RoutingContext;

import java.io.IOException;

/** Reading request bodies and parameters, and writing JSON answers: the same few rules for every route. */
final class Bodies {
  static final String JSON = "application/json";
  /** The same, made once as header text (its bytes and hash ready) for the hot 201. */
  static final CharSequence JSON_HEADER = io.vertx.core.http.HttpHeaders.createOptimized(JSON);

  private Bodies() {
  }

  /** The body as a JSON object; an empty body is an empty object when {@code optional}, else 400 malformed_json. */
  static JsonNode object(RoutingContext ctx, boolean optional) {
    Buffer b = json(ctx, optional);
    return b == null ? Json.object() : object(b);
  }

  /**
   * The body, checked to be sent as JSON: null for an empty body when {@code optional}, else 400
   * malformed_json; 415 when it is not sent as JSON.
   */
  static Buffer json(RoutingContext ctx, boolean optional) {
    return json(ctx.body().buffer(), ctx.request().getHeader("Content-Type"), optional);
  }

  /** {@link #json(RoutingContext, boolean)} of a body read without the router (ReserveEndpoint). */
  static Buffer json(Buffer b, String type, boolean optional) {
    if (b == null || blank(b)) {
      if (optional) {
        return null;
      }
      throw AllotException.badField("malformed_json", "body", "a JSON object body is required");
    }
    if (!isJson(type)) {
      throw new AllotException(AllotException.Kind.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
          "a body must be sent as application/json, not " + (type == null ? "without a Content-Type" : "'" + type + "'"),
          "body", null, null);
    }
    return b;
  }

  /** A body {@link #json} let through, as a JSON object: 400 malformed_json when it is not one. */
  static JsonNode object(Buffer b) {
    JsonNode n;
    try {
      n = Json.TREES.readTree(b.getBytes());
    } catch (JsonProcessingException e) {
      throw AllotException.badField("malformed_json", "body", "the body is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw AllotException.badField("malformed_json", "body", "the body could not be read");
    }
    if (n == null || !n.isObject()) {
      throw AllotException.badField("malformed_json", "body", "the body must be a JSON object");
    }
    return n;
  }

  /** String.isBlank of the body, without decoding an ASCII body into a String first. */
  private static boolean blank(Buffer b) {
    for (int i = 0; i < b.length(); i++) {
      byte c = b.getByte(i);
      if (c < 0) {
        return b.toString().isBlank();
      }
      if (!Character.isWhitespace(c)) {
        return false;
      }
    }
    return true;
  }

  /** application/json (any parameters, such as a charset) or a +json type. */
  static boolean isJson(String contentType) {
    if (contentType == null) {
      return false;
    }
    int semi = contentType.indexOf(';');
    String type = (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(java.util.Locale.ROOT);
    return type.equals(JSON) || (type.startsWith("application/") && type.endsWith("+json"));
  }

  /** A field's text, or null when it is missing or not a string (the validators name it then). */
  static String text(JsonNode n, String name) {
    JsonNode v = n.get(name);
    return v != null && v.isTextual() ? v.asText() : null;
  }

  static long requiredLong(JsonNode n, String name, String field, long min, long max) {
    return requiredLong(n, name, field, min, max, "invalid_quantity");
  }

  static long requiredLong(JsonNode n, String name, String field, long min, long max, String code) {
    return inRange(wholeNumber(n.get(name)), field, min, max, code);
  }

  /** A whole number that fits a long, else null (missing, null, another type, too big). */
  static Long wholeNumber(JsonNode v) {
    return v == null || !v.isIntegralNumber() || !v.canConvertToLong() ? null : v.asLong();
  }

  /** v from min to max, else 400 {@code code} naming the field (v null: missing or not a whole number). */
  static long inRange(Long v, String field, long min, long max, String code) {
    if (v == null || v < min || v > max) {
      throw AllotException.badField(code, field, field + " must be a whole number from " + min + " to " + max);
    }
    return v;
  }

  static long optionalLong(JsonNode n, String name, long dflt, long min, long max, String code) {
    JsonNode v = n.get(name);
    if (v == null || v.isNull()) {
      return dflt;
    }
    return requiredLong(n, name, name, min, max, code);
  }

  /** An optional string field of at most {@code max} characters: null when missing or null. */
  static String optionalText(JsonNode n, String name, int max, String code, String what) {
    JsonNode v = n.get(name);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual() || v.asText().length() > max) {
      throw AllotException.badField(code, name, what);
    }
    return v.asText();
  }

  static int queryInt(RoutingContext ctx, String name, int dflt, int min, int max) {
    String v = ctx.request().getParam(name);
    if (v == null || v.isBlank()) {
      return dflt;
    }
    try {
      int n = Integer.parseInt(v.trim());
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException ignored) {
      // answered below
    }
    throw AllotException.badField("invalid_" + name, name, name + " must be a whole number from " + min + " to " + max);
  }

  /** Answers {@code status} with the JSON document, or hands the failure to the failure handler. */
  static void respond(RoutingContext ctx, int status, Future<? extends JsonNode> result) {
    result.onSuccess(node -> ctx.response().setStatusCode(status).putHeader("content-type", JSON)
            .end(Buffer.buffer(Json.bytes(node))))
        .onFailure(ctx::fail);
  }

  /** Answers 200 with JSON text that is already encoded (a reservation view). */
  static void respondText(RoutingContext ctx, Future<String> result) {
    result.onSuccess(body -> ctx.response().setStatusCode(200).putHeader("content-type", JSON).end(body))
        .onFailure(ctx::fail);
  }
}
