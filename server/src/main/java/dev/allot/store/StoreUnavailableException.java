package dev.allot.store;

/** Redis cannot be reached (or is still loading): the caller answers 503 and tries again later. */
public final class StoreUnavailableException extends RuntimeException {
  public StoreUnavailableException(String message, Throwable cause) {
    super(message, cause, false, false);
  }
}
