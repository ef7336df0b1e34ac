package dev.allot.stream;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder;
import io.netty.handler.timeout.IdleStateHandler;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/**
 * Where a shared frame is written from (#14): straight to the socket when every outbound handler
 * before Vert.x's lets a ready frame through untouched, else through the whole pipeline.
 */
class SharedFramesTest {
  /** Stands in for Vert.x's connection handler, the last in the pipeline. */
  private static final class VertxStandIn extends ChannelDuplexHandler {
  }

  /** An outbound handler that changes what it writes (as TLS does): it counts what passes it. */
  private static final class Rewriting extends ChannelOutboundHandlerAdapter {
    final AtomicInteger seen = new AtomicInteger();

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
      seen.incrementAndGet();
      ctx.write(msg, promise);
    }
  }

  private static ChannelHandlerContext vertx(EmbeddedChannel ch) {
    return ch.pipeline().context(VertxStandIn.class);
  }

  @Test
  @DisplayName("the WebSocket encoder and a read-only idle check are skipped: the frame goes straight out, byte for byte")
  void straightToTheSocket() {
    EmbeddedChannel ch = new EmbeddedChannel(new IdleStateHandler(30, 0, 0, TimeUnit.SECONDS),
        new WebSocket13FrameEncoder(false), new VertxStandIn());
    ChannelHandlerContext from = SharedFrames.writeContext(vertx(ch));
    assertSame(ch.pipeline().firstContext(), from);
    ByteBuf frame = SharedFrames.textFrame("{\"v\":1}".getBytes(StandardCharsets.UTF_8));
    byte[] expected = new byte[frame.readableBytes()];
    frame.getBytes(0, expected);
    from.writeAndFlush(frame.retainedDuplicate());
    ByteBuf out = ch.readOutbound();
    byte[] written = new byte[out.readableBytes()];
    out.readBytes(written);
    assertArrayEquals(expected, written);
    out.release();
    frame.release();
    ch.finishAndReleaseAll();
  }

  @Test
  @DisplayName("any other outbound handler, or an idle check that watches writes, keeps the whole path")
  void wholePathOtherwise() {
    Rewriting tls = new Rewriting();
    EmbeddedChannel withTls = new EmbeddedChannel(tls, new IdleStateHandler(30, 0, 0, TimeUnit.SECONDS),
        new WebSocket13FrameEncoder(false), new VertxStandIn());
    ChannelHandlerContext from = SharedFrames.writeContext(vertx(withTls));
    assertSame(vertx(withTls), from);
    from.writeAndFlush(SharedFrames.textFrame(new byte[] {'x'}));
    assertEquals(1, tls.seen.get(), "the frame went through the rewriting handler");
    withTls.finishAndReleaseAll();

    ChannelHandler writeIdle = new IdleStateHandler(0, 30, 0, TimeUnit.SECONDS);
    EmbeddedChannel watched = new EmbeddedChannel(writeIdle, new WebSocket13FrameEncoder(false), new VertxStandIn());
    assertSame(vertx(watched), SharedFrames.writeContext(vertx(watched)));
    watched.finishAndReleaseAll();
  }
}
