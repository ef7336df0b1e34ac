package dev.allot.stock;

import java.util.List;

/** A sales channel: the locations it draws from, in order, its safety buffer and its backorder flag. */
public record Channel(String id, List<String> locations, long buffer, boolean backorder) {
}
