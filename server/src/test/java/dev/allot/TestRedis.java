package dev.allot;

import dev.allot.store.RedisProcess;
import org.testcontainers.DockerClientFactory;

import java.util.List;
import org.testcontainers.containers.GenericContainer;

/**
 * Hands every test a real Redis, never a mock: ALLOT_TEST_REDIS_URL when set, else a Redis
 * container where Docker works, else a redis-server child process on a free port (the one on
 * PATH, or the binary shipped in the embedded-redis dependency). One per test JVM; tests use
 * random SKUs and ids so they never collide.
 */
public final class TestRedis {
  private static String url;

  private TestRedis() {
  }

  private static TestCluster cluster;

  /** True in the suite's cluster run (-Dallot.test.mode=cluster): servers then use a local Redis Cluster. */
  public static boolean clusterMode() {
    return "cluster".equals(System.getProperty("allot.test.mode"));
  }

  /** ALLOT_REDIS_CLUSTER for the shared test cluster (three masters, started once per test JVM). */
  public static synchronized String clusterUrls() {
    if (cluster == null) {
      try {
        cluster = TestCluster.start(3);
      } catch (Exception e) {
        throw new IllegalStateException("could not start the test Redis Cluster: " + e.getMessage(), e);
      }
      TestCluster c = cluster;
      Runtime.getRuntime().addShutdownHook(new Thread(c::close));
    }
    return cluster.urls();
  }

  /** Every node's URL: the standalone Redis, or each master of the test cluster. */
  public static List<String> nodeUrls() {
    return clusterMode() ? List.of(clusterUrls().split(",")) : List.of(url());
  }

  public static synchronized String url() {
    if (url != null) {
      return url;
    }
    String env = System.getenv("ALLOT_TEST_REDIS_URL");
    if (env != null && !env.isBlank()) {
      url = env.trim();
      return url;
    }
    if (dockerAvailable()) {
      try {
        GenericContainer<?> c = new GenericContainer<>("redis:7-alpine").withExposedPorts(6379);
        c.start();
        Runtime.getRuntime().addShutdownHook(new Thread(c::stop));
        url = "redis://" + c.getHost() + ":" + c.getMappedPort(6379);
        return url;
      } catch (RuntimeException e) {
        System.err.println("TestRedis: Docker is there but the Redis container did not start (" + e.getMessage()
            + "); using a redis-server child process instead");
      }
    }
    try {
      RedisProcess p = RedisProcess.start();
      Runtime.getRuntime().addShutdownHook(new Thread(p::close));
      url = p.url();
      return url;
    } catch (Exception e) {
      throw new IllegalStateException("no Redis for the tests: set ALLOT_TEST_REDIS_URL, or let the test"
          + " support start redis-server (" + e.getMessage() + ")", e);
    }
  }

  private static boolean dockerAvailable() {
    try {
      return DockerClientFactory.instance().isDockerAvailable();
    } catch (Throwable t) {
      return false;
    }
  }
}
