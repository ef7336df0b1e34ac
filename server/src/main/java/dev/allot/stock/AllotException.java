package dev.allot.stock;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A refusal with a stable problem {@code code} (API.md, "General") and the {@link Kind} of
 * refusal it is; nothing was changed. The domain says what went wrong, never how it is sent:
 * the HTTP layer maps each kind to its status in one place ({@code http.Problems}).
 */
public final class AllotException extends RuntimeException {
  /** What kind of refusal: the caller's input, its rights, a missing thing, a conflict with the state, gone, or not now. */
  public enum Kind { INVALID, FORBIDDEN, NOT_FOUND, CONFLICT, GONE, UNSUPPORTED_MEDIA_TYPE, UNAVAILABLE }

  private final Kind kind;
  private final String code;
  private final String field;
  private final transient ObjectNode extra;
  private final Integer retryAfter;

  public AllotException(Kind kind, String code, String detail) {
    this(kind, code, detail, null, null, null);
  }

  /** retryAfter: seconds after which a retry may succeed (null: none given). */
  public AllotException(Kind kind, String code, String detail, String field, ObjectNode extra, Integer retryAfter) {
    super(detail, null, false, false);
    this.kind = kind;
    this.code = code;
    this.field = field;
    this.extra = extra;
    this.retryAfter = retryAfter;
  }

  public static AllotException badField(String code, String field, String detail) {
    return new AllotException(Kind.INVALID, code, detail, field, null, null);
  }

  public static AllotException notFound(String code, String detail) {
    return new AllotException(Kind.NOT_FOUND, code, detail);
  }

  public static AllotException conflict(String code, String detail) {
    return new AllotException(Kind.CONFLICT, code, detail);
  }

  public static AllotException forbidden(String detail) {
    return new AllotException(Kind.FORBIDDEN, "forbidden", detail);
  }

  public Kind kind() {
    return kind;
  }

  public String code() {
    return code;
  }

  public String field() {
    return field;
  }

  public ObjectNode extra() {
    return extra;
  }

  public Integer retryAfter() {
    return retryAfter;
  }
}
