package dev.allot.common;

/**
 * The stock store (Redis) cannot be reached, is stalled past the command timeout, or refuses
 * writes: the call answers 503 {@code store_unavailable} with Retry-After and may be retried. Thrown
 * by the store; mapped once at the HTTP edge. It lives below every layer so each may name it.
 */
public final class StoreUnavailableException extends RuntimeException {
  public StoreUnavailableException(String message, Throwable cause) {
    super(message, cause, false, false);
  }
}
