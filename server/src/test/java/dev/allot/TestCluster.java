package dev.allot;

import dev.allot.store.RedisProcess;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.Request;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A local Redis Cluster for tests: masters (and replicas where a test needs failover) from the
 * same redis-server binary the other tests use, on free loopback ports (each with its bus port,
 * +10000, free too), slots split evenly and the nodes introduced with CLUSTER MEET and CLUSTER
 * REPLICATE (no redis-cli needed).
 */
public final class TestCluster implements AutoCloseable {
  private final List<RedisProcess> nodes;
  private final Path dir;
  private final int nodeTimeoutMillis;

  private final String binary;

  private TestCluster(List<RedisProcess> nodes, Path dir, int nodeTimeoutMillis, String binary) {
    this.binary = binary;
    this.nodes = new ArrayList<>(nodes);
    this.dir = dir;
    this.nodeTimeoutMillis = nodeTimeoutMillis;
  }

  public static TestCluster start(int masters) throws Exception {
    // No failover in these tests: a long node timeout never marks a slow node failed on a loaded box.
    return start(masters, 0, 60_000);
  }

  /**
   * Masters first in {@link #nodes()}, then the replicas: replica i follows master i % masters.
   * With replicas, nodeTimeoutMillis is how long a master may go unanswered before its replica
   * takes over.
   */
  public static TestCluster start(int masters, int replicasPerMaster, int nodeTimeoutMillis) throws Exception {
    return start(masters, replicasPerMaster, nodeTimeoutMillis, RedisProcess.findBinary());
  }

  /** As {@link #start(int, int, int)}, from a given redis-server binary. */
  public static TestCluster start(int masters, int replicasPerMaster, int nodeTimeoutMillis, String binary)
      throws Exception {
    Path dir = Files.createTempDirectory("allot-cluster-");
    List<RedisProcess> nodes = new ArrayList<>();
    int total = masters * (1 + replicasPerMaster);
    try {
      for (int i = 0; i < total; i++) {
        nodes.add(startNode(binary, clusterPort(), dir, nodeTimeoutMillis));
      }
      Vertx vertx = Vertx.vertx();
      try {
        int per = 16384 / masters;
        for (int i = 0; i < masters; i++) {
          int from = i * per;
          int to = i == masters - 1 ? 16383 : (i + 1) * per - 1;
          Request add = Request.cmd(Command.CLUSTER).arg("ADDSLOTS");
          for (int s = from; s <= to; s++) {
            add.arg(s);
          }
          send(vertx, nodes.get(i).port(), add);
        }
        for (int i = 1; i < total; i++) {
          send(vertx, nodes.get(0).port(), Request.cmd(Command.CLUSTER).arg("MEET").arg("127.0.0.1").arg(nodes.get(i).port()));
        }
        long deadline = System.currentTimeMillis() + 30_000;
        for (int i = masters; i < total; i++) {
          String masterId = send(vertx, nodes.get(i % masters).port(), Request.cmd(Command.CLUSTER).arg("MYID"));
          // The replica must have heard of its master through the gossip first.
          while (true) {
            try {
              send(vertx, nodes.get(i).port(), Request.cmd(Command.CLUSTER).arg("REPLICATE").arg(masterId));
              break;
            } catch (Throwable e) { // the client's error replies (ErrorType) are Throwables, not Exceptions
              waitOrFail(deadline, "replica " + i + " could not follow its master: " + e.getMessage());
            }
          }
        }
        for (RedisProcess n : nodes) {
          while (!send(vertx, n.port(), Request.cmd(Command.CLUSTER).arg("INFO")).contains("cluster_state:ok")) {
            waitOrFail(deadline, "the test cluster did not reach cluster_state:ok in 30 s");
          }
        }
        for (int i = masters; i < total; i++) {
          while (!send(vertx, nodes.get(i).port(), Request.cmd(Command.INFO).arg("replication"))
              .contains("master_link_status:up")) {
            waitOrFail(deadline, "replica " + i + " did not reach its master in 30 s");
          }
        }
      } finally {
        vertx.close().await(10, TimeUnit.SECONDS);
      }
      return new TestCluster(nodes, dir, nodeTimeoutMillis, binary);
    } catch (Throwable e) { // also the client's error replies (ErrorType), which are not Exceptions
      nodes.forEach(RedisProcess::close);
      throw e;
    }
  }

  private static RedisProcess startNode(String binary, int port, Path dir, int nodeTimeoutMillis) throws IOException {
    return RedisProcess.start(binary, port, List.of("--cluster-enabled", "yes",
        "--cluster-config-file", dir.resolve("nodes-" + port + ".conf").toAbsolutePath().toString(),
        "--cluster-node-timeout", Integer.toString(nodeTimeoutMillis),
        // a replica may always take over, however long it was out of touch
        "--cluster-replica-validity-factor", "0",
        // a replica's first sync at once (Redis 7 waits 5 s by default for more replicas to join it)
        "--repl-diskless-sync-delay", "0",
        "--dir", dir.toAbsolutePath().toString()));
  }

  /**
   * Starts node i again (after it was killed) on its port with its cluster config file, so it
   * rejoins as the node it was: a master whose slots were taken over comes back as a replica.
   */
  public RedisProcess restart(int i) throws IOException {
    RedisProcess node = startNode(binary, nodes.get(i).port(), dir, nodeTimeoutMillis);
    nodes.set(i, node);
    return node;
  }

  private static void waitOrFail(long deadline, String message) throws InterruptedException {
    if (System.currentTimeMillis() > deadline) {
      throw new IllegalStateException(message);
    }
    TimeUnit.MILLISECONDS.sleep(50); // polling the cluster's own state, with a deadline
  }

  /** ALLOT_REDIS_CLUSTER for these nodes. */
  public String urls() {
    return nodes.stream().map(RedisProcess::url).collect(Collectors.joining(","));
  }

  /**
   * Moves a slot from master {@code from} to master {@code to} the way redis-cli --cluster reshard
   * does: IMPORTING on the target, MIGRATING on the source, MIGRATE of its keys, then SETSLOT NODE
   * on every master.
   */
  public void moveSlot(Vertx vertx, int slot, int from, int to) throws Exception {
    int fromPort = nodes.get(from).port();
    int toPort = nodes.get(to).port();
    String fromId = send(vertx, fromPort, Request.cmd(Command.CLUSTER).arg("MYID"));
    String toId = send(vertx, toPort, Request.cmd(Command.CLUSTER).arg("MYID"));
    send(vertx, toPort, Request.cmd(Command.CLUSTER).arg("SETSLOT").arg(slot).arg("IMPORTING").arg(fromId));
    send(vertx, fromPort, Request.cmd(Command.CLUSTER).arg("SETSLOT").arg(slot).arg("MIGRATING").arg(toId));
    while (true) {
      String list = send(vertx, fromPort, Request.cmd(Command.CLUSTER).arg("GETKEYSINSLOT").arg(slot).arg(100));
      List<String> names = SlotMoveTest.parseList(list);
      if (names.isEmpty()) {
        break;
      }
      Request migrate = Request.cmd(Command.MIGRATE).arg("127.0.0.1").arg(toPort).arg("").arg(0).arg(5000).arg("KEYS");
      names.forEach(migrate::arg);
      send(vertx, fromPort, migrate);
    }
    // The new owner first, then the old, then the others: the order Redis's own resharding follows
    // (CLUSTER SETSLOT's documentation), so the owner bumps its epoch and claims the slot before the
    // old owner lets go, and no node learns the move from a config older than the owner's.
    List<Integer> order = new java.util.ArrayList<>(List.of(toPort, fromPort));
    nodes.forEach(n -> {
      if (n.port() != toPort && n.port() != fromPort) {
        order.add(n.port());
      }
    });
    for (int port : order) {
      send(vertx, port, Request.cmd(Command.CLUSTER).arg("SETSLOT").arg(slot).arg("NODE").arg(toId));
    }
  }

  public List<RedisProcess> nodes() {
    return nodes;
  }

  static String send(Vertx vertx, int port, Request req) throws Exception {
    Redis client = Redis.createClient(vertx, "redis://127.0.0.1:" + port);
    try {
      RedisConnection c = client.connect().await(10, TimeUnit.SECONDS);
      try {
        var r = c.send(req).await(10, TimeUnit.SECONDS);
        return r == null ? "" : r.toString();
      } finally {
        c.close();
      }
    } finally {
      client.close();
    }
  }

  private static int clusterPort() throws IOException {
    for (int i = 0; i < 100; i++) {
      int port = 20000 + ThreadLocalRandom.current().nextInt(9000);
      if (free(port) && free(port + 10000)) {
        return port;
      }
    }
    throw new IOException("no free port pair for a cluster node");
  }

  private static boolean free(int port) {
    try (ServerSocket s = new ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public void close() {
    nodes.forEach(RedisProcess::close);
  }
}
