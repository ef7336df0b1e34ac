package dev.allot.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Lua scripts as Redis runs them. Each script of {@link Script} is read from the classpath
 * ({@code /lua/}, where the build copies the repo's {@code lua/} folder), every line
 * {@code --- @include "include/stock_prelude"} in it is replaced by that file (BullMQ's
 * convention: the path is relative to the including file, {@code .lua} may be left off), and
 * the SHA1 that {@code EVALSHA} names the result by is computed once.
 *
 * <p>An include that names no file, or that includes itself through any chain, fails loudly; a
 * file included twice in one script is spliced in only the first time.
 *
 * <p>{@code main} prints an assembled script, for {@code redis-cli --eval} by hand:
 * {@code java -cp server/target/allot-server.jar dev.allot.store.ScriptSource reserve_line > /tmp/reserve_line.lua}.
 */
public final class ScriptSource {
  /** {@code -- @include "x"} or {@code --- @include 'x'}, alone on its line. */
  private static final Pattern INCLUDE = Pattern.compile("^-{2,3}[ \\t]*@include[ \\t]+([\"'])(.+?)\\1[ \\t;]*$");
  private static final Map<Script, String> SOURCES = new EnumMap<>(Script.class);
  private static final Map<Script, String> SHAS = new EnumMap<>(Script.class);

  static {
    for (Script s : Script.values()) {
      String src = assemble(s.file, ScriptSource::classpathFile);
      SOURCES.put(s, src);
      SHAS.put(s, sha1(src));
    }
  }

  private ScriptSource() {
  }

  /** The script's text with its includes spliced in: what EVAL sends and SCRIPT LOAD loads. */
  public static String source(Script script) {
    return SOURCES.get(script);
  }

  /** The SHA1 of {@link #source}, as Redis computes it: what EVALSHA names the script by. */
  public static String sha(Script script) {
    return SHAS.get(script);
  }

  /**
   * Assembles one file: its text with every include line replaced by the included file's
   * (itself assembled). {@code files} answers a path relative to the scripts' root
   * ({@code "reserve_line.lua"}, {@code "include/stock_prelude.lua"}) with its text, or null
   * when there is no such file.
   *
   * @throws IllegalStateException for a missing file, an unknown include or a recursive one
   */
  public static String assemble(String file, Function<String, String> files) {
    StringBuilder out = new StringBuilder();
    splice(file, files, new ArrayDeque<>(), new HashSet<>(), out);
    return out.toString();
  }

  private static void splice(String file, Function<String, String> files, Deque<String> including, Set<String> done,
                             StringBuilder out) {
    String text = files.apply(file);
    if (text == null) {
      throw new IllegalStateException(including.isEmpty() ? "script lua/" + file + " is missing"
          : "lua/" + including.peek() + " includes lua/" + file + ", which does not exist");
    }
    including.push(file);
    done.add(file);
    String[] lines = text.split("\n", -1);
    for (int i = 0; i < lines.length; i++) {
      Matcher m = INCLUDE.matcher(lines[i].stripTrailing());
      if (m.matches()) {
        String target = resolve(file, m.group(2));
        if (including.contains(target)) {
          throw new IllegalStateException("lua/" + file + " line " + (i + 1) + ": recursive include of lua/" + target
              + " (through " + String.join(" <- ", including) + ")");
        }
        if (done.contains(target)) {
          continue; // spliced in once already: the line goes, with its line break
        }
        int before = out.length();
        splice(target, files, including, done, out);
        // The included text stands in for the line: keep exactly one line break after it.
        if (out.length() > before && out.charAt(out.length() - 1) == '\n') {
          out.setLength(out.length() - 1);
        }
      } else {
        out.append(lines[i]);
      }
      if (i < lines.length - 1) {
        out.append('\n');
      }
    }
    including.pop();
  }

  /** An include's path, relative to the including file's folder, with .lua added when left off. */
  private static String resolve(String from, String name) {
    String path = name.endsWith(".lua") ? name : name + ".lua";
    int slash = from.lastIndexOf('/');
    if (slash >= 0 && !path.startsWith("/")) {
      path = from.substring(0, slash + 1) + path;
    }
    Deque<String> parts = new ArrayDeque<>();
    for (String p : path.split("/")) {
      if (p.isEmpty() || p.equals(".")) {
        continue;
      }
      if (p.equals("..")) {
        if (parts.isEmpty()) {
          throw new IllegalStateException("lua/" + from + ": include \"" + name + "\" leaves lua/");
        }
        parts.removeLast();
      } else {
        parts.addLast(p);
      }
    }
    return String.join("/", parts);
  }

  private static String classpathFile(String path) {
    try (InputStream in = ScriptSource.class.getResourceAsStream("/lua/" + path)) {
      return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read lua/" + path, e);
    }
  }

  /** Hex SHA1 of the text's UTF-8 bytes, the name Redis gives a script. */
  public static String sha1(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * {@code ScriptSource NAME}: prints the assembled script NAME ({@code reserve_line} or
   * {@code reserve_line.lua}), ready for {@code redis-cli --eval}. With no name, lists each
   * script and its SHA1.
   */
  public static void main(String[] args) {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    if (args.length == 0) {
      for (Script s : Script.values()) {
        out.println(sha(s) + "  " + s.file);
      }
      return;
    }
    if (args.length > 1) {
      System.err.println("usage: ScriptSource [SCRIPT]   (SCRIPT: one of the names it lists without one)");
      System.exit(2);
    }
    String file = args[0].endsWith(".lua") ? args[0] : args[0] + ".lua";
    for (Script s : Script.values()) {
      if (s.file.equals(file)) {
        out.print(source(s));
        out.flush();
        return;
      }
    }
    System.err.println("ScriptSource: no script " + args[0] + "; the scripts are:");
    for (Script s : Script.values()) {
      System.err.println("  " + s.file);
    }
    System.exit(2);
  }
}
