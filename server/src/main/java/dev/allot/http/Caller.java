package dev.allot.http;

import dev.allot.stock.AllotException;

/** Who is calling, from the API key's role: admin, reader, or one channel. */
public record Caller(String role) {
  public static final Caller ADMIN = new Caller("admin");

  public boolean admin() {
    return role.equals("admin");
  }

  /** The channel of a channel key, else null. */
  public String channel() {
    return role.startsWith("channel:") ? role.substring("channel:".length()) : null;
  }

  public void requireAdmin() {
    if (!admin()) {
      throw AllotException.forbidden("this call needs an admin key");
    }
  }

  /** Admin, or the key of this very channel. */
  public void requireChannel(String channelId) {
    if (!admin() && !channelId.equals(channel())) {
      throw AllotException.forbidden("this key may not act for channel '" + channelId + "'");
    }
  }

  /** For calls on an existing reservation: null means any channel (admin); a channel key is held to its own. */
  public String reservationScope() {
    if (admin()) {
      return null;
    }
    String ch = channel();
    if (ch == null) {
      throw AllotException.forbidden("this call needs an admin or a channel key");
    }
    return ch;
  }

  /** For reading a reservation: readers may read any; channel keys their own. */
  public String readScope() {
    return admin() || role.equals("reader") ? null : channel();
  }
}
