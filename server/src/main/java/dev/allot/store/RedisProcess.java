package dev.allot.store;

import redis.embedded.core.ExecutableProvider;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A redis-server child process on a loopback port: the one on PATH when there is one, else the
 * binary shipped in the embedded-redis dependency. Used for demo mode and by the tests.
 * Nothing is persisted: it is for play and for tests, never for real stock.
 */
public final class RedisProcess implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(RedisProcess.class.getName());
  /** Redis's hash-max-listpack-value that deploy/ recommends (RedisStore#compactRecords). */
  public static final int RECOMMENDED_HASH_VALUE_BYTES = 512;
  private final Process process;
  private final int port;
  private final String binary;
  private final Path dir;

  private RedisProcess(Process process, int port, String binary, Path dir) {
    this.process = process;
    this.port = port;
    this.binary = binary;
    this.dir = dir;
  }

  /** Starts on a free port. */
  public static RedisProcess start() throws IOException {
    return start(freePort(), List.of());
  }

  /** Starts on the given port (a restart after {@link #close()} may reuse it), with extra redis-server arguments. */
  public static RedisProcess start(int port, List<String> extraArgs) throws IOException {
    return start(findBinary(), port, extraArgs);
  }

  /** Starts this redis-server binary on the given port, with extra redis-server arguments. */
  public static RedisProcess start(String binary, int port, List<String> extraArgs) throws IOException {
    Path dir = Files.createTempDirectory("allot-redis-");
    List<String> cmd = new ArrayList<>(List.of(binary, "--port", Integer.toString(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", dir.toAbsolutePath().toString(), "--loglevel", "warning",
        "--protected-mode", "no",
        // What deploy/ recommends: a held reservation's record (its 201 document is longer than
        // Redis's default 64 bytes) stays one compact listpack, about 30% less memory a reservation
        // (docs/benchmarks.md). The ziplist name is the one Redis 6.2 knows; 7 takes it as an alias.
        "--hash-max-ziplist-value", Integer.toString(RECOMMENDED_HASH_VALUE_BYTES)));
    cmd.addAll(extraArgs);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(dir.resolve("redis.log").toFile()).start();
    RedisProcess rp = new RedisProcess(p, port, binary, dir);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IOException("redis-server exited at start (code " + p.exitValue() + "): "
            + Files.readString(dir.resolve("redis.log")));
      }
      if (rp.answersPing()) {
        return rp;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    rp.close();
    throw new IOException("redis-server did not answer PING on port " + port + " within 10 s");
  }

  public int port() {
    return port;
  }

  public String url() {
    return "redis://127.0.0.1:" + port;
  }

  public String binary() {
    return binary;
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** Stops the server at once (SIGKILL): what a crash looks like to clients. */
  @Override
  public void close() {
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private boolean answersPing() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      s.setSoTimeout(500);
      OutputStream out = s.getOutputStream();
      out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[8];
      int n = in.read(buf);
      String reply = n > 0 ? new String(buf, 0, n, StandardCharsets.US_ASCII) : "";
      // Up: answering, or answering that it is still loading its data (LOADING, a restart with a dump).
      return reply.startsWith("+PONG") || reply.startsWith("-LOADING");
    } catch (IOException e) {
      return false;
    }
  }

  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    }
  }

  /** The major version of a redis-server binary (from --version), 0 if it cannot be told. */
  public static int majorVersion(String binary) {
    try {
      Process p = new ProcessBuilder(binary, "--version").redirectErrorStream(true).start();
      if (!p.waitFor(10, TimeUnit.SECONDS)) { // one line of output: it fits the pipe
        p.destroyForcibly();
        return 0;
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("v=(\\d+)\\.").matcher(out);
      return m.find() ? Integer.parseInt(m.group(1)) : 0;
    } catch (IOException e) {
      return 0;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 0;
    }
  }

  /** redis-server on PATH, else the embedded binary (extracted once per JVM). */
  public static synchronized String findBinary() throws IOException {
    String path = System.getenv("PATH");
    if (path != null) {
      for (String d : path.split(File.pathSeparator)) {
        File f = new File(d, "redis-server");
        if (f.isFile() && f.canExecute()) {
          return f.getAbsolutePath();
        }
      }
    }
    return embeddedBinary();
  }

  /** The redis-server binary shipped in the embedded-redis Maven dependency (Redis 6.2), extracted once per JVM. */
  public static synchronized String embeddedBinary() throws IOException {
    if (embedded == null) {
      File f = ExecutableProvider.newJarResourceProvider().get();
      if (!f.canExecute() && !f.setExecutable(true)) {
        throw new IOException("cannot make " + f + " executable");
      }
      embedded = f.getAbsolutePath();
      LOG.log(System.Logger.Level.DEBUG, "using the embedded redis-server at {0}", embedded);
    }
    return embedded;
  }

  private static String embedded;
}
