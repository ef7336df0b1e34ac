package dev.allot.loadtest;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * An open-model load generator for loadtest/capacity.sh --open: reservations sent at a constant
 * rate whatever the server's answers, each with a fresh id, and each latency counted from the
 * moment its request was due (not from when a connection was free to send it: a server that
 * stalls is charged for every request that waited, as wrk2 does). One thread, plain NIO, no
 * framework, buffers made once, so that it costs the box little (it prints its own CPU): the
 * Vert.x HTTP client took most of a core at 5,000 requests a second here.
 *
 * <pre>
 *   java -cp loadtest/target/test-classes dev.allot.loadtest.OpenModel HOST PORT RATE SECONDS CONNECTIONS KEY SKU [WARM] [RUN]
 * </pre>
 * The first WARM seconds (default 5) are sent at the same rate but not counted: the server's and
 * this generator's JIT settle there.
 * Prints one line: sent, answered (201 / 409 / other), the rate reached, latency percentiles, the
 * most requests that waited for a free connection, and the generator's CPU per request.
 */
public final class OpenModel {
  private static final byte[] CRLFCRLF = {'\r', '\n', '\r', '\n'};

  /** One keep-alive connection with at most one request outstanding (HTTP/1.1, no pipelining). */
  private static final class Conn {
    final SocketChannel ch;
    final ByteBuffer out = ByteBuffer.allocateDirect(1024);
    final ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);
    long dueNanos = -1; // the request outstanding: when it was due; -1 when idle

    Conn(SocketChannel ch) {
      this.ch = ch;
    }
  }

  private OpenModel() {
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 7) {
      System.err.println("usage: OpenModel HOST PORT RATE SECONDS CONNECTIONS KEY SKU [WARM] [RUN]");
      System.exit(2);
    }
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    double rate = Double.parseDouble(args[2]);
    int seconds = Integer.parseInt(args[3]);
    int connections = Integer.parseInt(args[4]);
    String key = args[5];
    String sku = args[6];
    int warm = args.length > 7 ? Integer.parseInt(args[7]) : 5;
    String run = args.length > 8 ? args[8] : Long.toString(System.nanoTime(), 36);

    Selector selector = Selector.open();
    Conn[] conns = new Conn[connections];
    ArrayDeque<Conn> idle = new ArrayDeque<>(connections);
    for (int i = 0; i < connections; i++) {
      SocketChannel ch = SocketChannel.open(new InetSocketAddress(host, port));
      ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      ch.configureBlocking(false);
      Conn c = new Conn(ch);
      ch.register(selector, SelectionKey.OP_READ, c);
      conns[i] = c;
      idle.add(c);
    }
    byte[] head = ("POST /v1/reservations HTTP/1.1\r\nHost: " + host + ":" + port
        + "\r\nContent-Type: application/json\r\nAuthorization: Bearer " + key + "\r\nContent-Length: ")
        .getBytes(StandardCharsets.US_ASCII);
    byte[] bodyStart = ("{\"id\":\"o" + run + "-").getBytes(StandardCharsets.US_ASCII);
    byte[] bodyEnd = ("\",\"channel\":\"web\",\"ttlSeconds\":3600,\"lines\":[{\"sku\":\"" + sku + "\",\"qty\":1}]}")
        .getBytes(StandardCharsets.US_ASCII);

    long total = (long) (rate * (warm + seconds));
    long counted = (long) (rate * seconds);
    long[] latencies = new long[(int) counted];
    long interval = (long) (1e9 / rate);
    long start = System.nanoTime() + 50_000_000L;
    long next = 0; // the next request to send, by number
    ArrayDeque<Long> waiting = new ArrayDeque<>(); // due times of requests no connection was free for
    int maxWaiting = 0;
    long answered = 0;
    long created = 0;
    long refused = 0;
    long other = 0;
    long cpuStart = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    long warmEnd = start + (long) warm * 1_000_000_000L;
    long cpuAtWarmEnd = -1;
    long answeredAtWarmEnd = 0;
    long deadline = start + (long) (warm + seconds) * 1_000_000_000L + 10_000_000_000L; // 10 s to drain
    int n = 0;

    while (answered < total && System.nanoTime() < deadline) {
      long now = System.nanoTime();
      while (next < total && start + next * interval <= now) {
        waiting.add(start + next * interval);
        next++;
      }
      maxWaiting = Math.max(maxWaiting, waiting.size());
      while (!waiting.isEmpty() && !idle.isEmpty()) {
        Conn c = idle.poll();
        c.dueNanos = waiting.poll();
        // The request's number (its id's tail) from when it was due: unique, whoever sends it.
        send(c, head, bodyStart, bodyEnd, (c.dueNanos - start) / interval);
      }
      // Sleep until the next request is due or an answer comes; the selector counts in whole ms, so a
      // request due within the next ms waits up to one ms (it is charged for it: latency counts from
      // its due time). Never a busy loop: the generator must leave the box to the servers.
      long untilNext = next < total ? start + next * interval - System.nanoTime() : 10_000_000L;
      if (untilNext <= 0 && !waiting.isEmpty() && idle.isEmpty()) {
        untilNext = 1_000_000L; // due, but every connection is busy: wait for an answer
      }
      if (untilNext <= 0) {
        selector.selectNow();
      } else {
        selector.select(Math.max(1, untilNext / 1_000_000));
      }
      if (cpuAtWarmEnd < 0 && System.nanoTime() >= warmEnd) {
        cpuAtWarmEnd = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
        answeredAtWarmEnd = answered;
      }
      for (SelectionKey k : selector.selectedKeys()) {
        Conn c = (Conn) k.attachment();
        int status = read(c);
        if (status != 0) {
          long latency = System.nanoTime() - c.dueNanos;
          if (c.dueNanos >= warmEnd && n < latencies.length) {
            latencies[n++] = latency;
          }
          answered++;
          if (status == 201) {
            created++;
          } else if (status == 409) {
            refused++;
          } else {
            other++;
          }
          c.dueNanos = -1;
          idle.add(c);
        }
      }
      selector.selectedKeys().clear();
    }
    long cpuEnd = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    long cpu = cpuEnd - (cpuAtWarmEnd < 0 ? cpuStart : cpuAtWarmEnd);
    long answeredCounted = answered - answeredAtWarmEnd;
    double took = (System.nanoTime() - start) / 1e9;
    long[] sorted = Arrays.copyOf(latencies, n);
    Arrays.sort(sorted);
    System.out.printf("open: rate=%.0f/s for %d s (after %d s not counted) over %d connections: sent=%d answered=%d"
            + " created=%d refused=%d other=%d"
            + " reached=%.0f/s p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f most_waiting=%d"
            + " generator_cpu_us_per_request=%.1f%n",
        rate, seconds, warm, connections, next, answered, created, refused, other, answered / took,
        pct(sorted, 0.50), pct(sorted, 0.90), pct(sorted, 0.99), pct(sorted, 0.999),
        n == 0 ? 0 : sorted[n - 1] / 1e6, maxWaiting, answeredCounted == 0 ? 0 : cpu / 1e3 / answeredCounted);
    for (Conn c : conns) {
      c.ch.close();
    }
    System.exit(answered == total && other == 0 ? 0 : 1);
  }

  private static double pct(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)] / 1e6;
  }

  /** Writes request number {@code n} (its id) on an idle connection; the socket takes it whole (it is small). */
  private static void send(Conn c, byte[] head, byte[] bodyStart, byte[] bodyEnd, long n) throws IOException {
    byte[] id = Long.toString(n).getBytes(StandardCharsets.US_ASCII);
    int length = bodyStart.length + id.length + bodyEnd.length;
    ByteBuffer out = c.out;
    out.clear();
    out.put(head).put(Integer.toString(length).getBytes(StandardCharsets.US_ASCII)).put(CRLFCRLF);
    out.put(bodyStart).put(id).put(bodyEnd);
    out.flip();
    while (out.hasRemaining()) {
      if (c.ch.write(out) == 0) {
        Thread.onSpinWait();
      }
    }
  }

  /**
   * Reads what the connection has; answers the status once a whole response (headers and its
   * Content-Length of body) is in, else 0.
   */
  private static int read(Conn c) throws IOException {
    ByteBuffer in = c.in;
    if (c.ch.read(in) < 0) {
      throw new IOException("the server closed a connection");
    }
    int end = indexOf(in, CRLFCRLF);
    if (end < 0) {
      return 0;
    }
    int status = (in.get(9) - '0') * 100 + (in.get(10) - '0') * 10 + (in.get(11) - '0');
    int length = contentLength(in, end);
    int whole = end + 4 + length;
    if (in.position() < whole) {
      return 0;
    }
    // Keep anything past this response (there is none without pipelining, but stay exact).
    int extra = in.position() - whole;
    for (int i = 0; i < extra; i++) {
      in.put(i, in.get(whole + i));
    }
    in.position(extra);
    return status;
  }

  private static int indexOf(ByteBuffer in, byte[] what) {
    outer:
    for (int i = 0; i + what.length <= in.position(); i++) {
      for (int j = 0; j < what.length; j++) {
        if (in.get(i + j) != what[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /** The Content-Length header's value within the headers ending at {@code end} (0 when absent). */
  private static int contentLength(ByteBuffer in, int end) {
    byte[] name = "content-length:".getBytes(StandardCharsets.US_ASCII);
    for (int i = 0; i + name.length < end; i++) {
      if (in.get(i) != '\n') {
        continue;
      }
      int j = 0;
      while (j < name.length && Character.toLowerCase(in.get(i + 1 + j)) == name[j]) {
        j++;
      }
      if (j == name.length) {
        int p = i + 1 + j;
        while (in.get(p) == ' ') {
          p++;
        }
        int v = 0;
        while (in.get(p) >= '0' && in.get(p) <= '9') {
          v = v * 10 + (in.get(p) - '0');
          p++;
        }
        return v;
      }
    }
    return 0;
  }
}
