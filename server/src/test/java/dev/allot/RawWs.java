package dev.allot;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stream's WebSocket at the byte level, for tests that must control every frame (floods,
 * oversized or fragmented messages, a reader that does not read): the upgrade, client frames,
 * and reading the server's frames.
 */
final class RawWs {
  /** A server frame: its first byte (FIN, opcode) and its payload. */
  record Frame(int first, byte[] payload) {
    int opcode() {
      return first & 0x0f;
    }

    String text() {
      return new String(payload, StandardCharsets.UTF_8);
    }
  }

  private RawWs() {
  }

  /** The upgrade request to /v1/stream with this key. */
  static byte[] upgrade(String key) {
    byte[] nonce = new byte[16];
    ThreadLocalRandom.current().nextBytes(nonce);
    return ("GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: " + Base64.getEncoder().encodeToString(nonce) + "\r\nSec-WebSocket-Version: 13\r\n"
        + "Authorization: Bearer " + key + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * A socket upgraded to the stream with the reader key; {@code receiveBuffer} above 0 sets its
   * receive buffer first (a small one makes a reader that fills up fast).
   */
  static Socket open(int port, int receiveBuffer, int readTimeoutMillis) throws IOException {
    Socket sock = new Socket();
    if (receiveBuffer > 0) {
      sock.setReceiveBufferSize(receiveBuffer);
    }
    sock.connect(new InetSocketAddress("127.0.0.1", port));
    sock.setSoTimeout(readTimeoutMillis);
    sock.getOutputStream().write(upgrade(TestServer.READER));
    InputStream in = sock.getInputStream();
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      head.append((char) in.read());
    }
    assertTrue(head.toString().startsWith("HTTP/1.1 101"), head.toString());
    return sock;
  }

  /** A client frame (masked, with a zero mask so the payload goes as is). */
  static byte[] frame(int opcode, boolean fin, byte[] payload) {
    int len = payload.length;
    ByteArrayOutputStream f = new ByteArrayOutputStream();
    f.write((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
      f.write(0x80 | len);
    } else if (len < 65536) {
      f.write(0x80 | 126);
      f.write(len >> 8);
      f.write(len & 0xff);
    } else {
      f.write(0x80 | 127);
      for (int i = 7; i >= 0; i--) {
        f.write((int) ((long) len >> (8 * i)) & 0xff);
      }
    }
    f.writeBytes(new byte[4]);
    f.writeBytes(payload);
    return f.toByteArray();
  }

  static byte[] text(String text) {
    return frame(0x1, true, text.getBytes(StandardCharsets.UTF_8));
  }

  /** The server's next frame (server frames are never masked). */
  static Frame read(InputStream in) throws IOException {
    int b0 = in.read();
    assertTrue(b0 >= 0, "the server closed the connection");
    int len = in.read() & 0x7f;
    if (len == 126) {
      len = (in.read() << 8) | in.read();
    } else if (len == 127) {
      len = (int) ByteBuffer.wrap(in.readNBytes(8)).getLong();
    }
    return new Frame(b0, in.readNBytes(len));
  }

  /** Reads the server's frames until its close frame; its status code. */
  static int closeCode(InputStream in) throws IOException {
    while (true) {
      Frame f = read(in);
      if (f.opcode() == 0x8) {
        return ((f.payload()[0] & 0xff) << 8) | (f.payload()[1] & 0xff);
      }
    }
  }
}
