package dev.allot.stream;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandler;
import io.netty.handler.codec.http.websocketx.WebSocketFrameEncoder;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtensionEncoder;
import io.netty.handler.timeout.IdleStateHandler;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.internal.http.WebSocketInternal;

import java.lang.reflect.Field;

/**
 * One encoding per change and event loop, shared by every socket of that loop (#14): a text
 * message becomes one complete WebSocket frame (a server frame is not masked, so the same bytes
 * are right for every client), written to each socket as a retained duplicate. Vert.x's own
 * write path would encode the text, wrap it in a frame object and queue it for every socket.
 */
final class SharedFrames {
  private static final System.Logger LOG = System.getLogger(SharedFrames.class.getName());
  /** vertx-web hands out its own wrapper of the server's WebSocket; the channel is on the one inside. */
  private static final Field WRAPPED = wrappedField();
  /**
   * -Dallot.stream.sharedFrames=false writes every message through Vert.x instead: for comparing
   * the two in a benchmark, and a way out should a Vert.x upgrade change what this reaches into.
   */
  private static final boolean ENABLED = !"false".equals(System.getProperty("allot.stream.sharedFrames"));

  private SharedFrames() {
  }

  /** A final text frame of these UTF-8 bytes (a direct buffer: written to sockets without a copy). Release it. */
  static ByteBuf textFrame(byte[] payload) {
    int n = payload.length;
    ByteBuf frame = PooledByteBufAllocator.DEFAULT.directBuffer(n + 10);
    frame.writeByte(0x81); // FIN, text
    if (n < 126) {
      frame.writeByte(n);
    } else if (n < 65536) {
      frame.writeByte(126).writeShort(n);
    } else {
      frame.writeByte(127).writeLong(n);
    }
    return frame.writeBytes(payload);
  }

  /** The socket's Netty channel context, or null when this Vert.x does not expose it (then no shared frames). */
  static ChannelHandlerContext channel(ServerWebSocket ws) {
    if (!ENABLED) {
      return null;
    }
    Object inner = ws;
    if (!(inner instanceof WebSocketInternal) && WRAPPED != null && WRAPPED.getDeclaringClass().isInstance(ws)) {
      try {
        inner = WRAPPED.get(ws);
      } catch (IllegalAccessException e) {
        return null;
      }
    }
    return inner instanceof WebSocketInternal w ? writeContext(w.channelHandlerContext()) : null;
  }

  /**
   * Where a shared frame is written from: a write from a handler's context passes through every
   * outbound handler between it and the socket. From Vert.x's own handler that is the WebSocket
   * encoders, which let a ready frame through untouched, and the idle check, which only watches
   * reads here: a pass through each per socket per change, for nothing. When those are all there is,
   * the frame is written from the first handler's context, straight to the socket; any other
   * outbound handler (TLS above all, which must encrypt every socket's bytes) keeps the whole path.
   */
  static ChannelHandlerContext writeContext(ChannelHandlerContext vertx) {
    ChannelHandlerContext first = vertx.pipeline().firstContext();
    for (var e : vertx.pipeline()) {
      ChannelHandler h = e.getValue();
      if (h == vertx.handler()) {
        return first == null ? vertx : first;
      }
      if (h instanceof ChannelOutboundHandler && !passesFrames(h)) {
        return vertx;
      }
    }
    return vertx;
  }

  /** An outbound handler that writes a ready frame (a ByteBuf) on unchanged and keeps no state about it. */
  private static boolean passesFrames(ChannelHandler h) {
    if (h instanceof IdleStateHandler idle) {
      return idle.getWriterIdleTimeInMillis() == 0 && idle.getAllIdleTimeInMillis() == 0;
    }
    return h instanceof WebSocketFrameEncoder || h instanceof WebSocketExtensionEncoder;
  }

  private static Field wrappedField() {
    try {
      Field f = Class.forName("io.vertx.ext.web.impl.ServerWebSocketWrapper").getDeclaredField("delegate");
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.log(System.Logger.Level.INFO, "stream: writing each message through Vert.x (no shared frames): {0}",
          e.toString());
      return null;
    }
  }
}
