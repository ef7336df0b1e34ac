package dev.allot;

import dev.allot.store.RedisProcess;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.allot.ExpiryTest.await;

/** A Redis writing every change to its append-only file before it answers, killed and started again by the tests. */
final class AofRedis implements AutoCloseable {
  private final int port = RedisProcess.freePort();
  private final List<String> args;
  private RedisProcess process;

  AofRedis() throws Exception {
    Path dir = Files.createTempDirectory("allot-aof-");
    args = List.of("--appendonly", "yes", "--appendfsync", "always", "--dir", dir.toString());
    process = RedisProcess.start(port, args);
  }

  String url() {
    return process.url();
  }

  /** SIGKILL: nothing is flushed on the way out. */
  void kill() {
    process.close();
  }

  /** Starts it again on the same port, replaying the append-only file, and waits for the server to be ready. */
  void restart(AllotServer server) throws Exception {
    process = RedisProcess.start(port, args);
    Api anon = new Api(server.port(), null);
    await("ready again", 15_000, () -> anon.get("/health/ready").status() == 200);
  }

  @Override
  public void close() {
    process.close();
  }
}
