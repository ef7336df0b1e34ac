package dev.allot;

import dev.allot.store.RedisProcess;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.allot.Api.expect;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The jar on a small heap (128 MiB, exiting on OutOfMemoryError) under what took the old one
 * down (#15): keyless clients holding partial 512 KiB bodies, stream clients flooding pings
 * without reading their pongs, and slowloris connections that never finish a request head, all
 * at once. It must stay up, keep serving a buyer, and close the attackers.
 */
class HardeningIT {
  private static final byte[] PING = RawWs.frame(0x9, true, new byte[125]);

  @Test
  @DisplayName("a 128 MiB jar under keyless partial bodies, ping floods and slowloris stays up and serves")
  void smallHeapUnderAttack() throws Exception {
    try (RedisProcess redis = RedisProcess.start()) {
      JarIT.Running run = JarIT.launch(Map.of("ALLOT_REDIS_URL", redis.url(),
          "ALLOT_API_KEYS", TestServer.keys("web"),
          "ALLOT_HTTP_HEADER_TIMEOUT_MILLIS", "3000",
          "JAVA_TOOL_OPTIONS", "-Xmx128m -XX:+ExitOnOutOfMemoryError"));
      Api admin = new Api(run.port(), TestServer.ADMIN);
      admin.location("main");
      admin.channel("web", "[\"main\"]", 0);
      String sku = Api.sku("siege");
      admin.receive(sku, "main", 10);
      ExecutorService pool = Executors.newFixedThreadPool(8);
      List<Socket> sockets = java.util.Collections.synchronizedList(new ArrayList<>());
      try {
        List<Future<?>> attacks = new ArrayList<>();
        // 150 keyless connections, each sending half of a 1 MiB body and holding on.
        for (int t = 0; t < 3; t++) {
          attacks.add(pool.submit(() -> {
            for (int i = 0; i < 50; i++) {
              Socket s = open(run.port(), sockets);
              write(s, ("POST /v1/movements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + "Content-Length: 1048576\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
              write(s, new byte[512 * 1024]);
            }
            return null;
          }));
        }
        // 4 stream clients each flooding 3000 pings, never reading.
        for (int t = 0; t < 4; t++) {
          attacks.add(pool.submit(() -> {
            Socket s = open(run.port(), sockets);
            write(s, RawWs.upgrade(TestServer.READER));
            for (int i = 0; i < 3000; i++) {
              if (!write(s, PING)) {
                break;
              }
            }
            return null;
          }));
        }
        // 300 slowloris connections: a partial request head each.
        attacks.add(pool.submit(() -> {
          for (int i = 0; i < 300; i++) {
            write(open(run.port(), sockets), "GET /v1/skus/A HTTP/1.1\r\nHo".getBytes(StandardCharsets.US_ASCII));
          }
          return null;
        }));
        for (Future<?> f : attacks) {
          f.get(120, TimeUnit.SECONDS);
        }
        // Under siege: a buyer is served, the process lives.
        expect(admin.as("t-web").post("/v1/reservations", ExpiryTest.cart(Api.id("b"), sku, 1, 60)), 201);
        expect(new Api(run.port(), null).get("/health/live"), 200);
        // The attackers are let go of: every slowloris and partial-body connection is closed by the server.
        long deadline = System.currentTimeMillis() + 30_000;
        int open = -1;
        while (System.currentTimeMillis() < deadline && open != 0) {
          open = 0;
          for (Socket s : sockets) {
            if (!closedByPeer(s)) {
              open++;
            }
          }
        }
        assertTrue(open == 0, open + " attacking connections still open after 30 s");
        expect(admin.as("t-web").post("/v1/reservations", ExpiryTest.cart(Api.id("b"), sku, 1, 60)), 201);
        assertTrue(run.process().isAlive(), "the server is alive: " + run.text());
        assertFalse(run.text().contains("java.lang.OutOfMemoryError"), run.text());
      } finally {
        pool.shutdownNow();
        for (Socket s : sockets) {
          s.close();
        }
        JarIT.terminate(run);
      }
    }
  }

  private static Socket open(int port, List<Socket> sockets) throws Exception {
    Socket s = new Socket("127.0.0.1", port);
    s.setSoTimeout(50);
    sockets.add(s);
    return s;
  }

  /** Writes, or answers false when the server has closed the connection already. */
  private static boolean write(Socket s, byte[] bytes) {
    try {
      OutputStream out = s.getOutputStream();
      out.write(bytes);
      return true;
    } catch (Exception closed) {
      return false;
    }
  }

  /** True once the server has closed it (end of stream or reset); whatever it sent before is skipped. */
  private static boolean closedByPeer(Socket s) {
    try {
      byte[] buf = new byte[65536];
      while (true) {
        if (s.getInputStream().read(buf) < 0) {
          return true;
        }
      }
    } catch (java.net.SocketTimeoutException stillOpen) {
      return false;
    } catch (Exception reset) {
      return true;
    }
  }
}
