package dev.allot.stock;

/** A place that holds stock. */
public record Location(String id, String name) {
}
