package dev.allot;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * A throwaway certificate authority for tests, made with the JDK's own keytool: a CA, and
 * certificates it signs (PEM files, keys in PKCS#8), as a TLS Redis and its clients need them.
 */
final class TestCerts {
  private static final String PASS = "changeit";
  final Path dir;
  final Path ca;

  private TestCerts(Path dir) {
    this.dir = dir;
    this.ca = dir.resolve("ca.pem");
  }

  static TestCerts create() throws Exception {
    TestCerts c = new TestCerts(Files.createTempDirectory("allot-tls-"));
    c.keytool("-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=Allot test CA",
        "-ext", "bc:c", "-validity", "2", "-keystore", c.store("ca"), "-storetype", "PKCS12", "-storepass", PASS);
    c.keytool("-exportcert", "-alias", "ca", "-rfc", "-keystore", c.store("ca"), "-storepass", PASS,
        "-file", c.ca.toString());
    return c;
  }

  /** A certificate signed by the CA for {@code name}, with these subject alternative names ("dns:x,ip:y"); its PEM files. */
  Path[] issue(String name, String san) throws Exception {
    String store = store(name);
    keytool("-genkeypair", "-alias", name, "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=" + name,
        "-validity", "2", "-keystore", store, "-storetype", "PKCS12", "-storepass", PASS);
    Path csr = dir.resolve(name + ".csr");
    keytool("-certreq", "-alias", name, "-keystore", store, "-storepass", PASS, "-file", csr.toString());
    Path cert = dir.resolve(name + ".pem");
    List<String> args = new ArrayList<>(List.of("-gencert", "-alias", "ca", "-keystore", store("ca"), "-storepass", PASS,
        "-infile", csr.toString(), "-outfile", cert.toString(), "-rfc", "-validity", "2"));
    if (san != null) {
      args.addAll(List.of("-ext", "SAN=" + san));
    }
    keytool(args.toArray(new String[0]));
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (var in = Files.newInputStream(Path.of(store))) {
      ks.load(in, PASS.toCharArray());
    }
    Key key = ks.getKey(name, PASS.toCharArray());
    Path keyFile = dir.resolve(name + ".key");
    Files.writeString(keyFile, "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded())
        + "\n-----END PRIVATE KEY-----\n");
    return new Path[] {cert, keyFile};
  }

  private String store(String name) {
    return dir.resolve(name + ".p12").toString();
  }

  private void keytool(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IOException("keytool " + String.join(" ", args) + " failed: " + out);
    }
  }
}
