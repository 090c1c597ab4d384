package com.licsrv.client.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** A minimal MessagePack writer (requests, tests): smallest encodings. Not thread-safe. */
public final class MpWriter {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  private void be(long v, int w) {
    for (int i = w - 1; i >= 0; i--) {
      out.write((int) (v >>> (8 * i)));
    }
  }

  public MpWriter map(int n) {
    if (n < 16) {
      out.write(0x80 | n);
    } else if (n < 65536) {
      out.write(0xde);
      be(n, 2);
    } else {
      out.write(0xdf);
      be(n, 4);
    }
    return this;
  }

  public MpWriter array(int n) {
    if (n < 16) {
      out.write(0x90 | n);
    } else if (n < 65536) {
      out.write(0xdc);
      be(n, 2);
    } else {
      out.write(0xdd);
      be(n, 4);
    }
    return this;
  }

  public MpWriter str(String s) {
    byte[] u = s.getBytes(StandardCharsets.UTF_8);
    int n = u.length;
    if (n < 32) {
      out.write(0xa0 | n);
    } else if (n < 256) {
      out.write(0xd9);
      be(n, 1);
    } else if (n < 65536) {
      out.write(0xda);
      be(n, 2);
    } else {
      out.write(0xdb);
      be(n, 4);
    }
    out.writeBytes(u);
    return this;
  }

  public MpWriter bin(byte[] b) {
    int n = b.length;
    if (n < 256) {
      out.write(0xc4);
      be(n, 1);
    } else if (n < 65536) {
      out.write(0xc5);
      be(n, 2);
    } else {
      out.write(0xc6);
      be(n, 4);
    }
    out.writeBytes(b);
    return this;
  }

  public MpWriter integer(long v) {
    if (v >= 0 && v < 128) {
      out.write((int) v);
    } else if (v < 0 && v >= -32) {
      out.write((int) (v & 0xff));
    } else if (v >= 0 && v < 256) {
      out.write(0xcc);
      be(v, 1);
    } else if (v >= 0 && v < 65536) {
      out.write(0xcd);
      be(v, 2);
    } else if (v >= 0 && v < (1L << 32)) {
      out.write(0xce);
      be(v, 4);
    } else if (v >= 0) {
      out.write(0xcf);
      be(v, 8);
    } else {
      out.write(0xd3);
      be(v, 8);
    }
    return this;
  }

  public MpWriter nil() {
    out.write(0xc0);
    return this;
  }

  public MpWriter raw(byte[] b) {
    out.writeBytes(b);
    return this;
  }

  public byte[] toBytes() {
    return out.toByteArray();
  }
}
