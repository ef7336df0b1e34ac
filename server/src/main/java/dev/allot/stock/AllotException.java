package dev.allot.stock;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A refusal with a stable problem {@code code} and HTTP status (API.md, "General"). The HTTP
 * layer turns it into an application/problem+json document; nothing was changed.
 */
public final class AllotException extends RuntimeException {
  private final int status;
  private final String code;
  private final String field;
  private final transient ObjectNode extra;
  private final Integer retryAfter;

  public AllotException(int status, String code, String detail) {
    this(status, code, detail, null, null, null);
  }

  public AllotException(int status, String code, String detail, String field, ObjectNode extra, Integer retryAfter) {
    super(detail, null, false, false);
    this.status = status;
    this.code = code;
    this.field = field;
    this.extra = extra;
    this.retryAfter = retryAfter;
  }

  public static AllotException badField(String code, String field, String detail) {
    return new AllotException(400, code, detail, field, null, null);
  }

  public int status() {
    return status;
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
