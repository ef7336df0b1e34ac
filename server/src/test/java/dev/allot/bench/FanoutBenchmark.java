package dev.allot.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.allot.store.RedisProcess;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fan-out cost of the stream: N WebSocket watchers on one SKU, changes at a steady rate, against
 * the packaged server jar in its own JVM (so its heap and CPU are its own). Reports delivery
 * latency (from just before the change request is sent to each watcher's receipt, and to the
 * last watcher), the server's heap per connection, and its CPU. A benchmark, not a test: it
 * reports figures and asserts nothing about speed.
 *
 * <pre>
 * mvn -q -B package -DskipTests
 * mvn -q -B -f server/pom.xml exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=dev.allot.bench.FanoutBenchmark -Dwatchers=1000,5000,10000 -Dchanges=100 -Drate=10
 * </pre>
 */
public final class FanoutBenchmark {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  public static void main(String[] args) throws Exception {
    int[] sizes = Arrays.stream(System.getProperty("watchers", "1000,5000,10000").split(",")).mapToInt(Integer::parseInt)
        .toArray();
    int changes = Integer.getInteger("changes", 100);
    int rate = Integer.getInteger("rate", 10);
    String jar = System.getProperty("jar", "server/target/allot-server.jar");
    if (!new File(jar).isFile() && new File("target/allot-server.jar").isFile()) {
      jar = "target/allot-server.jar";
    }
    System.out.printf("machine: %d cores, %s %s, Java %s%n", Runtime.getRuntime().availableProcessors(),
        System.getProperty("os.name"), System.getProperty("os.arch"), System.getProperty("java.version"));
    for (int n : sizes) {
      run(jar, n, changes, rate);
    }
    System.exit(0);
  }

  static void run(String jar, int watchers, int changes, int rate) throws Exception {
    try (RedisProcess redis = RedisProcess.start()) {
      int port = RedisProcess.freePort();
      List<String> cmd = new ArrayList<>(List.of(System.getProperty("java.home") + "/bin/java", "-Xmx1g"));
      String extra = System.getProperty("serverJvmArgs", "").replace("{watchers}", Integer.toString(watchers));
      if (!extra.isBlank()) {
        cmd.addAll(Arrays.asList(extra.trim().split("\\s+")));
      }
      cmd.addAll(List.of("-jar", jar));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.environment().put("ALLOT_REDIS_URL", redis.url());
      pb.environment().put("ALLOT_HTTP_PORT", Integer.toString(port));
      pb.environment().put("ALLOT_API_KEYS", "bench-admin=admin,bench-reader=reader");
      Process server = pb.start();
      BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream()));
      String line;
      while ((line = out.readLine()) != null && !line.contains("Allot ready")) {
        // wait for the ready line
      }
      Thread drain = new Thread(() -> {
        try {
          while (out.readLine() != null) {
            // keep the pipe from filling
          }
        } catch (Exception ignored) {
          // server gone
        }
      });
      drain.setDaemon(true);
      drain.start();
      Vertx vertx = Vertx.vertx();
      try {
        String sku = "FANOUT-1";
        call(port, "PUT", "/v1/locations/main", "{\"name\":\"main\"}");
        call(port, "PUT", "/v1/channels/web", "{\"locations\":[\"main\"]}");
        call(port, "POST", "/v1/movements", movement(sku, 1));

        long heapBefore = heapAfterGc(server.pid(), port);
        Map<String, long[]> histoBefore = Boolean.getBoolean("histo") ? histogram(server.pid()) : null;
        // One local address has ~28,000 ephemeral ports toward one server port: every 20,000 watchers
        // connect from the next loopback address (127.0.0.1, .2, ...).
        List<WebSocketClient> clients = new ArrayList<>();
        for (int k = 0; k * 20_000 < watchers; k++) {
          clients.add(vertx.createWebSocketClient(new WebSocketClientOptions().setMaxConnections(20_010)
              .setConnectTimeout(30_000).setLocalAddress("127.0.0." + (k + 1))));
        }
        Map<Long, Long> sentAt = new ConcurrentHashMap<>();
        Map<Long, AtomicInteger> received = new ConcurrentHashMap<>();
        Map<Long, AtomicLong> lastAt = new ConcurrentHashMap<>();
        long[] latencies = new long[watchers * changes];
        AtomicInteger deliveries = new AtomicInteger();
        AtomicInteger snapshots = new AtomicInteger();
        List<WebSocket> sockets = new ArrayList<>(watchers);
        long connectStart = System.nanoTime();
        for (int i = 0; i < watchers; i += 200) {
          List<Future<WebSocket>> batch = new ArrayList<>();
          for (int j = i; j < Math.min(watchers, i + 200); j++) {
            batch.add(clients.get(j / 20_000).connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port)
                .setURI("/v1/stream").addHeader("Authorization", "Bearer bench-reader")).onSuccess(ws -> {
                  ws.textMessageHandler(text -> {
                    long now = System.nanoTime();
                    int v = text.indexOf("\"version\":");
                    long version = Long.parseLong(text.substring(v + 10, text.length() - 1));
                    Long t0 = sentAt.get(version);
                    if (t0 == null) {
                      snapshots.incrementAndGet();
                      return;
                    }
                    int k = deliveries.getAndIncrement();
                    if (k < latencies.length) {
                      latencies[k] = now - t0;
                    }
                    received.computeIfAbsent(version, x -> new AtomicInteger()).incrementAndGet();
                    lastAt.computeIfAbsent(version, x -> new AtomicLong()).accumulateAndGet(now, Math::max);
                  });
                  ws.writeTextMessage("{\"op\":\"subscribe\",\"channel\":\"web\",\"skus\":[\"" + sku + "\"]}");
                }));
          }
          Future.all(batch).await(60, TimeUnit.SECONDS);
          batch.forEach(f -> sockets.add(f.result()));
        }
        waitFor(() -> snapshots.get() >= watchers, 60_000);
        double connectSeconds = (System.nanoTime() - connectStart) / 1e9;
        long heapAfter = heapAfterGc(server.pid(), port);
        if (histoBefore != null) {
          // What one connection costs, by class: the growth of the live heap's histogram, per socket.
          Map<String, long[]> after = histogram(server.pid());
          List<Map.Entry<String, long[]>> grown = new ArrayList<>(after.entrySet());
          grown.sort((a, b) -> Long.compare(b.getValue()[1] - histoBefore.getOrDefault(b.getKey(), new long[2])[1],
              a.getValue()[1] - histoBefore.getOrDefault(a.getKey(), new long[2])[1]));
          System.out.printf("  heap growth per connection by class (top 25):%n");
          for (Map.Entry<String, long[]> e : grown.subList(0, Math.min(25, grown.size()))) {
            long[] b = histoBefore.getOrDefault(e.getKey(), new long[2]);
            System.out.printf("    %8.2f objects %8.0f bytes  %s%n", (e.getValue()[0] - b[0]) / (double) watchers,
                (e.getValue()[1] - b[1]) / (double) watchers, e.getKey());
          }
        }

        // The server's CPU with the watchers connected and nothing changing (pings, sweeper, metrics):
        // subtracted below, so the per-message figure is what deliveries cost.
        // Measured after the connections settle (10 s: the connect phase's JIT and GC still run right after it).
        TimeUnit.SECONDS.sleep(Integer.getInteger("settleSeconds", 10));
        long idleCpu0 = cpuNanos(server.pid());
        long idleWall0 = System.nanoTime();
        TimeUnit.SECONDS.sleep(Integer.getInteger("idleSeconds", 10));
        double idleCores = (cpuNanos(server.pid()) - idleCpu0) / (double) (System.nanoTime() - idleWall0);
        long cpuBefore = cpuNanos(server.pid());
        long wallStart = System.nanoTime();
        List<Long> versions = new ArrayList<>();
        long interval = TimeUnit.SECONDS.toNanos(1) / rate;
        // Each receive bumps the SKU's version by exactly one, so the version a change will carry is
        // known before it is sent: watchers often hear of it before the HTTP answer comes back.
        long version = call(port, "GET", "/v1/skus/" + sku, null).path("version").asLong();
        for (int c = 0; c < changes; c++) {
          long due = wallStart + c * interval;
          while (System.nanoTime() < due) {
            Thread.onSpinWait();
          }
          version++;
          sentAt.put(version, System.nanoTime());
          JsonNode r = call(port, "POST", "/v1/movements", movement(sku, 1));
          long got = r.path("results").path(0).path("version").asLong();
          if (got != version) {
            throw new IllegalStateException("expected version " + version + ", the change made " + got);
          }
          versions.add(version);
        }
        long lastVersion = versions.get(versions.size() - 1);
        waitFor(() -> received.getOrDefault(lastVersion, new AtomicInteger()).get() >= watchers, 30_000);
        double wallSeconds = (System.nanoTime() - wallStart) / 1e9;
        double cpuSeconds = (cpuNanos(server.pid()) - cpuBefore) / 1e9;

        int n = Math.min(deliveries.get(), latencies.length);
        long[] each = Arrays.copyOf(latencies, n);
        Arrays.sort(each);
        long[] toLast = versions.stream().filter(lastAt::containsKey)
            .mapToLong(v -> lastAt.get(v).get() - sentAt.get(v)).sorted().toArray();
        long complete = versions.stream().filter(v -> received.getOrDefault(v, new AtomicInteger()).get() >= watchers).count();
        System.out.printf("watchers=%d changes=%d rate=%d/s: connected in %.1f s; deliveries %d of %d (%d changes reached"
                + " every watcher)%n", watchers, changes, rate, connectSeconds, n, (long) watchers * changes, complete);
        System.out.printf("  latency to each watcher: p50 %.1f ms, p99 %.1f ms, max %.1f ms%n", ms(pct(each, 50)),
            ms(pct(each, 99)), ms(each.length == 0 ? 0 : each[each.length - 1]));
        System.out.printf("  latency to the last watcher: p50 %.1f ms, p99 %.1f ms, max %.1f ms%n", ms(pct(toLast, 50)),
            ms(pct(toLast, 99)), ms(toLast.length == 0 ? 0 : toLast[toLast.length - 1]));
        System.out.printf("  server heap: %.1f MiB before, %.1f MiB with %d sockets: %.1f KiB per connection%n",
            heapBefore / 1048576.0, heapAfter / 1048576.0, watchers, (heapAfter - heapBefore) / 1024.0 / watchers);
        double deliveryCpu = cpuSeconds - idleCores * wallSeconds;
        System.out.printf("  server CPU while changing: %.2f s over %.1f s wall = %.0f%% of one core (idle: %.0f%%);"
            + " %.2f us per delivered message (%.2f us all in)%n", cpuSeconds, wallSeconds,
            100 * cpuSeconds / wallSeconds, 100 * idleCores, deliveryCpu * 1e6 / Math.max(1, n),
            cpuSeconds * 1e6 / Math.max(1, n));
        sockets.forEach(WebSocket::close);
      } finally {
        vertx.close().await(30, TimeUnit.SECONDS);
        server.toHandle().destroy();
        server.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  static String movement(String sku, int qty) {
    return "{\"movements\":[{\"id\":\"m-" + System.nanoTime() + "\",\"sku\":\"" + sku
        + "\",\"location\":\"main\",\"type\":\"receive\",\"qty\":" + qty + "}]}";
  }

  static JsonNode call(int port, String method, String path, String body) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .header("Authorization", "Bearer bench-admin").header("content-type", "application/json")
        .timeout(Duration.ofSeconds(30)).method(method, body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() >= 300) {
      throw new IllegalStateException(method + " " + path + ": " + r.statusCode() + " " + r.body());
    }
    return MAPPER.readTree(r.body());
  }

  /** Heap in use after a full GC of the server JVM (jcmd), from its own metrics. */
  static long heapAfterGc(long pid, int port) throws Exception {
    new ProcessBuilder("jcmd", Long.toString(pid), "GC.run").redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor(60, TimeUnit.SECONDS);
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    double sum = 0;
    for (String l : r.body().split("\n")) {
      if (l.startsWith("jvm_memory_used_bytes{") && l.contains("area=\"heap\"")) {
        sum += Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
      }
    }
    return (long) sum;
  }

  /** Live objects by class (jcmd GC.class_histogram, which collects first): class -> {instances, bytes}. */
  static Map<String, long[]> histogram(long pid) throws Exception {
    Process p = new ProcessBuilder("jcmd", Long.toString(pid), "GC.class_histogram").redirectErrorStream(true).start();
    Map<String, long[]> m = new java.util.HashMap<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
      String line;
      while ((line = r.readLine()) != null) {
        String[] f = line.trim().split("\\s+");
        if (f.length >= 4 && f[0].endsWith(":")) {
          m.put(f[3], new long[] {Long.parseLong(f[1]), Long.parseLong(f[2])});
        }
      }
    }
    p.waitFor(60, TimeUnit.SECONDS);
    return m;
  }

  static long cpuNanos(long pid) {
    return ProcessHandle.of(pid).flatMap(h -> h.info().totalCpuDuration()).map(Duration::toNanos).orElse(0L);
  }

  static void waitFor(java.util.function.BooleanSupplier done, long timeoutMillis) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMillis;
    while (!done.getAsBoolean() && System.currentTimeMillis() < deadline) {
      TimeUnit.MILLISECONDS.sleep(20);
    }
  }

  static long pct(long[] sorted, int p) {
    return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
  }

  static double ms(long nanos) {
    return nanos / 1e6;
  }
}
