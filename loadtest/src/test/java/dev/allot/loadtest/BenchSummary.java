package dev.allot.loadtest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;

/**
 * Prints the benchmark command's one summary from the flash sale's run summary (counts and the
 * response times its buyers saw) and the redis-benchmark ceiling measured in the same run, and
 * names the newest Gatling report.
 * Arguments: gatlingResultsDir summaryJson ceilingOpsPerSecond(or "-") machineLine
 */
public final class BenchSummary {
  public static void main(String[] args) throws Exception {
    ObjectMapper m = new ObjectMapper();
    File[] runs = new File(args[0]).listFiles(File::isDirectory);
    if (runs == null || runs.length == 0) {
      throw new IllegalStateException("no Gatling run under " + args[0]);
    }
    File newest = Arrays.stream(runs).max(Comparator.comparingLong(File::lastModified)).orElseThrow();
    JsonNode run = m.readTree(Files.readString(Path.of(args[1])));
    double rate = run.path("reservationsHeld").asLong() / Math.max(0.001, run.path("buyersSeconds").asDouble());
    System.out.println("---- Allot benchmark summary ----");
    System.out.println("machine: " + args[3]);
    System.out.printf(Locale.ROOT, "reservations accepted: %d in %.1f s = %.0f reservations/s%n",
        run.path("reservationsHeld").asLong(), run.path("buyersSeconds").asDouble(), rate);
    for (String name : new String[] {"reserve", "commit"}) {
      JsonNode r = run.path(name);
      System.out.printf(Locale.ROOT, "%-8s n=%d  p50 %d ms  p95 %d ms  p99 %d ms  max %d ms%n", name,
          r.path("n").asLong(), r.path("p50").asLong(), r.path("p95").asLong(), r.path("p99").asLong(),
          r.path("max").asLong());
    }
    System.out.printf("oversells: %d (server: onHand %d, committed %d, reserved %d; buyers committed %d units)%n",
        run.path("oversells").asLong(), run.path("serverOnHand").asLong(), run.path("serverCommitted").asLong(),
        run.path("serverReserved").asLong(), run.path("unitsCommitted").asLong());
    if (!args[2].equals("-")) {
      double ceiling = Double.parseDouble(args[2]);
      System.out.printf(Locale.ROOT, "ceiling: redis-benchmark EVALSHA reserve_line on one hot key = %.0f ops/s;"
          + " Allot/ceiling = %.2f%n", ceiling, rate / ceiling);
    } else {
      System.out.println("ceiling: skipped (redis-benchmark is not installed: apt-get install redis-tools)");
    }
    System.out.println("Gatling report: " + newest.toPath().resolve("index.html").toAbsolutePath());
  }

}
