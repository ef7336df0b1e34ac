package dev.allot;

import dev.allot.store.RedisProcess;
import org.testcontainers.DockerClientFactory;
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
      GenericContainer<?> c = new GenericContainer<>("redis:7-alpine").withExposedPorts(6379);
      c.start();
      Runtime.getRuntime().addShutdownHook(new Thread(c::stop));
      url = "redis://" + c.getHost() + ":" + c.getMappedPort(6379);
      return url;
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
