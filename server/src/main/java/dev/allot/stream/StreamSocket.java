package dev.allot.stream;

import com.fasterxml.jackson.databind.JsonNode;
import dev.allot.config.Settings;
import dev.allot.stock.AllotException;
import dev.allot.stock.Catalog;
import dev.allot.stock.Json;
import dev.allot.stock.Validate;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocketFrameType;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One live-availability WebSocket: reads subscribe/unsubscribe messages, answers bad ones with
 * an error message (the socket stays open), and writes what the hub sends. A socket that cannot
 * keep up is not buffered for: while its write queue is full only the newest message per
 * (channel, SKU) waits, and it is closed with 1013 when that lasts {@code ALLOT_STREAM_STALL_MILLIS},
 * 1008 when it does not answer pings.
 */
public final class StreamSocket {
  private static final System.Logger LOG = System.getLogger(StreamSocket.class.getName());
  private static final int MAX_SKUS_PER_MESSAGE = 500;
  /**
   * Pings a client may send in one second. Vert.x answers each with a pong that bypasses the write
   * queue: a client that floods pings and never reads would grow the server's memory without bound.
   */
  static final int MAX_PINGS_PER_SECOND = 20;
  /** A client message (subscribe/unsubscribe) larger than this, in one frame or in fragments, closes with 1009. */
  public static final int MESSAGE_LIMIT = 64 * 1024;

  private final ServerWebSocket ws;
  private final StreamHub hub;
  private final Catalog catalog;
  private final Settings.Stream settings;
  private final Vertx vertx;
  /** channel -> SKUs subscribed, touched on the socket's event loop. */
  private final Map<String, Set<String>> subscriptions = new HashMap<>();
  private int subscriptionCount;
  private volatile boolean closing;   // set from any thread: stop writing at once
  private boolean closed;             // set on the socket's event loop once it is really closed
  private volatile boolean pongSeen = true;
  private long pingSecond;
  /** The newest undelivered message per (channel, SKU) while the socket cannot take writes; null when none waits. */
  private Map<String, String> waiting;
  private long stalledSince;
  /** Bytes of the client message being received so far (its fragments add up). */
  private long messageBytes;
  private int pingsThisSecond;
  private long pingTimer = -1;
  /** The event loop this socket lives on: the hub hands it messages there, in one task per change. */
  final Context context;
  /**
   * The socket's Netty channel context, for writing the hub's shared, already encoded frames
   * straight to it (null where Vert.x does not let us at it: every message then takes the plain path).
   */
  private ChannelHandlerContext chctx;

  /** The API key it counts against (its slot is given back when it closes). */
  private String key;

  StreamSocket(Vertx vertx, ServerWebSocket ws, StreamHub hub, Catalog catalog, Settings.Stream settings) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.ws = ws;
    this.hub = hub;
    this.catalog = catalog;
    this.settings = settings;
  }

  /** Takes over an upgraded socket, holding one of its key's slots ({@link StreamHub#admit}). */
  public static void open(Vertx vertx, ServerWebSocket ws, StreamHub hub, Catalog catalog, Settings.Stream settings,
                          String key) {
    StreamSocket s = new StreamSocket(vertx, ws, hub, catalog, settings);
    s.key = key;
    s.chctx = SharedFrames.channel(ws);
    ws.setWriteQueueMaxSize(settings.queueBytes());
    ws.textMessageHandler(s::onText);
    ws.binaryMessageHandler(b -> s.error("malformed_message", "send JSON text messages", null));
    ws.pongHandler(b -> s.pongSeen = true);
    // Pings, and the size of data messages; the text messages keep their own handler. Vert.x drops
    // a fragmented message over its limit without a word: the client is told with 1009 instead.
    ws.frameHandler(f -> {
      switch (f.type()) {
        case PING -> s.clientPing();
        case TEXT, BINARY, CONTINUATION -> s.messageFrame(f.type() == WebSocketFrameType.CONTINUATION,
            f.binaryData().length(), f.isFinal());
        default -> { }
      }
    });
    // Room again: the messages that waited go out, and reading resumes (a client that does not read
    // its pongs was paused until what we wrote drained).
    ws.drainHandler(v -> {
      s.flushWaiting();
      ws.resume();
    });
    ws.closeHandler(v -> s.closed());
    ws.exceptionHandler(err -> {
      if (err instanceof CorruptedWebSocketFrameException bad) {
        // A frame over the limit, or not a valid frame: Vert.x has the decoder report it rather than
        // answer it; the client is told why (1009 for a frame too big, 1002 for a broken one).
        s.close((short) bad.closeStatus().code(), bad.getMessage() == null ? "invalid frame" : bad.getMessage());
      } else {
        LOG.log(System.Logger.Level.DEBUG, "stream socket error: {0}", err.toString());
      }
    });
    hub.socketOpened();
    s.pingTimer = vertx.setPeriodic(settings.pingMillis(), t -> s.ping());
  }

  private void ping() {
    if (closing) {
      return;
    }
    if (!pongSeen) {
      close((short) 1008, "no answer to ping: the client is not reading");
      return;
    }
    pongSeen = false;
    ws.writePing(io.vertx.core.buffer.Buffer.buffer("p"));
  }

  private void messageFrame(boolean continuation, int bytes, boolean last) {
    messageBytes = (continuation ? messageBytes : 0) + bytes;
    if (messageBytes > MESSAGE_LIMIT) {
      messageBytes = 0;
      close((short) 1009, "a message is larger than " + MESSAGE_LIMIT + " bytes");
    } else if (last) {
      messageBytes = 0;
    }
  }

  /** A ping from the client (Vert.x has queued its pong already). */
  private void clientPing() {
    long second = System.currentTimeMillis() / 1000;
    if (second != pingSecond) {
      pingSecond = second;
      pingsThisSecond = 0;
    }
    if (++pingsThisSecond > MAX_PINGS_PER_SECOND) {
      close((short) 1008, "more than " + MAX_PINGS_PER_SECOND + " pings a second");
      return;
    }
    if (ws.writeQueueFull()) {
      ws.pause();
    }
  }

  private void onText(String text) {
    JsonNode msg;
    try {
      msg = Json.MAPPER.readTree(text);
    } catch (Exception e) {
      error("malformed_json", "the message is not valid JSON", null);
      return;
    }
    if (msg == null || !msg.isObject()) {
      error("malformed_json", "a message must be a JSON object", null);
      return;
    }
    String op = msg.path("op").asText("");
    if (!op.equals("subscribe") && !op.equals("unsubscribe")) {
      error("unknown_op", "op must be subscribe or unsubscribe", "op");
      return;
    }
    String channel;
    List<String> skus = new ArrayList<>();
    try {
      channel = Validate.channel(msg.path("channel").isTextual() ? msg.get("channel").asText() : null, "channel");
      JsonNode arr = msg.get("skus");
      if (arr == null || !arr.isArray() || arr.isEmpty() || arr.size() > MAX_SKUS_PER_MESSAGE) {
        throw AllotException.badField("invalid_skus", "skus", "skus must be a list of 1 to " + MAX_SKUS_PER_MESSAGE + " SKUs");
      }
      for (int i = 0; i < arr.size(); i++) {
        String sku = Validate.sku(arr.get(i).isTextual() ? arr.get(i).asText() : null, "skus[" + i + "]");
        if (!skus.contains(sku)) {
          skus.add(sku);
        }
      }
    } catch (AllotException e) {
      error(e.code(), e.getMessage(), e.field());
      return;
    }
    if (op.equals("unsubscribe")) {
      Set<String> mine = subscriptions.get(channel);
      List<String> leaving = new ArrayList<>();
      if (mine != null) {
        for (String code : skus) {
          String sku = catalog.resolve(channel, code);
          if (mine.remove(sku)) {
            leaving.add(sku);
          }
        }
        subscriptionCount -= leaving.size();
      }
      if (!leaving.isEmpty()) {
        hub.unwatchSkus(key, leaving);
        hub.unsubscribe(this, channel, leaving);
      }
      return;
    }
    catalog.channel(channel).onComplete(ar -> {
      if (ar.failed()) {
        error("store_unavailable", "the stock store cannot be reached; retry shortly", null);
        return;
      }
      if (ar.result().isEmpty()) {
        error("unknown_channel", "channel '" + channel + "' does not exist", "channel");
        return;
      }
      Set<String> mine = subscriptions.computeIfAbsent(channel, c -> new java.util.LinkedHashSet<>());
      List<String> joining = new ArrayList<>();
      for (String code : skus) {
        String sku = catalog.resolve(channel, code);
        if (!sku.equals(code)) {
          // The channel's own code: say which SKU it stands for; messages name the canonical SKU.
          info("{\"type\":\"alias\",\"channel\":\"" + channel + "\",\"alias\":\"" + code + "\",\"sku\":\"" + sku + "\"}");
        }
        if (!mine.contains(sku) && !joining.contains(sku)) {
          joining.add(sku);
        }
      }
      if (subscriptionCount + joining.size() > settings.maxSubscriptions()) {
        error("too_many_skus", "at most " + settings.maxSubscriptions() + " subscriptions per connection",
            "skus");
        return;
      }
      if (closing || joining.isEmpty()) {
        return;
      }
      if (!hub.watchSkus(key, joining, settings.maxSkusPerKey())) {
        error("too_many_skus", "this key watches " + settings.maxSkusPerKey() + " different SKUs on this instance"
            + " already (ALLOT_STREAM_MAX_SKUS_PER_KEY)", "skus");
        return;
      }
      mine.addAll(joining);
      subscriptionCount += joining.size();
      hub.subscribe(this, channel, joining);
    });
  }

  /**
   * Writes one availability message for (channel, SKU) {@code key}; runs on this socket's event
   * loop (the hub sees to that and to the order of versions). A socket that cannot take writes
   * now is not queued for: the newest message per key waits (conflation: versions only go up, so
   * the newest says all) and goes out when the socket drains. One whose queue stays full for
   * {@code ALLOT_STREAM_STALL_MILLIS} is closed (1013).
   */
  void deliver(String key, String message) {
    if (closing) {
      return;
    }
    if (ws.writeQueueFull()) {
      stalled(key, message);
      return;
    }
    if (waiting != null) {
      waiting.remove(key); // this one is newer
      flushWaiting();
      if (waiting != null) {
        stalled(key, message);
        return;
      }
    }
    ws.writeTextMessage(message);
  }

  /**
   * As {@link #deliver}, with the message already encoded as a whole WebSocket frame shared by every
   * socket of this event loop: written as a retained duplicate of it (no encoding, no copy, no
   * per-socket frame object), and flushed. Anything else takes the plain path: a socket we cannot
   * write to directly, one holding messages back, or one whose channel is not writable now (the
   * plain path then queues one message in Vert.x, whose drain tells us when there is room again).
   */
  void deliver(String key, String message, io.netty.buffer.ByteBuf frame) {
    if (closing) {
      return;
    }
    ChannelHandlerContext c = chctx;
    if (c == null || waiting != null || !c.channel().isWritable()) {
      deliver(key, message);
      return;
    }
    c.writeAndFlush(frame.retainedDuplicate(), c.voidPromise());
  }

  private void stalled(String key, String message) {
    long now = System.currentTimeMillis();
    if (waiting == null) {
      waiting = new java.util.LinkedHashMap<>();
      stalledSince = now;
    } else if (now - stalledSince > settings.stallMillis()) {
      close((short) 1013, "too slow: messages have not been read for " + settings.stallMillis()
          + " ms; reconnect and resubscribe");
      return;
    }
    waiting.put(key, message);
    hub.heldBack.increment();
  }

  /** Writes the newest waiting message of each key while the socket takes them. */
  private void flushWaiting() {
    if (waiting == null || closing) {
      return;
    }
    var it = waiting.values().iterator();
    while (it.hasNext() && !ws.writeQueueFull()) {
      ws.writeTextMessage(it.next());
      it.remove();
    }
    if (waiting.isEmpty()) {
      waiting = null;
    }
  }

  private void info(String json) {
    if (!closing && !ws.writeQueueFull()) {
      ws.writeTextMessage(json);
    }
  }

  private void error(String code, String detail, String field) {
    if (closing || ws.writeQueueFull()) {
      return;
    }
    StringBuilder sb = new StringBuilder("{\"type\":\"error\",\"code\":\"").append(code).append("\",\"detail\":")
        .append(Json.write(com.fasterxml.jackson.databind.node.TextNode.valueOf(detail)));
    if (field != null) {
      sb.append(",\"field\":").append(Json.write(com.fasterxml.jackson.databind.node.TextNode.valueOf(field)));
    }
    ws.writeTextMessage(sb.append('}').toString());
  }

  /** Closes from any thread; the clean-up runs in the close handler, on the socket's event loop. */
  private void close(short code, String reason) {
    if (!closing) {
      closing = true;
      hub.socketClosed(); // no longer served, even while the close handshake waits for a client that does not read
      LOG.log(System.Logger.Level.INFO, "closing stream socket {0} ({1}): {2}", ws.remoteAddress(),
          Short.toString(code), reason);
      ws.close(code, reason);
    }
  }

  private void closed() {
    if (closed) {
      return;
    }
    closed = true;
    hub.release(key);
    if (!closing) {
      closing = true;
      hub.socketClosed();
    }
    if (pingTimer >= 0) {
      vertx.cancelTimer(pingTimer);
      pingTimer = -1;
    }
    Map<String, List<String>> all = new HashMap<>();
    subscriptions.forEach((c, skus) -> all.put(c, List.copyOf(skus)));
    subscriptions.clear();
    all.values().forEach(skus -> hub.unwatchSkus(key, skus));
    hub.remove(this, all);
  }
}
