package com.licsrv.client.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * This machine's identity (docs/formats.md, "Machine identity"), read like liblic's
 * machine.c: the machine code from machine-id and DMI product_uuid, the MAC hashes of the
 * physical interfaces; {@code LIC_SYSROOT} points at a simulated machine. Immutable.
 */
public final class Machine {
  private static final String SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  private static final String[] VIRTUAL = {"lo", "veth", "docker", "br-", "virbr", "tun", "tap",
      "vnet", "cni", "flannel", "kube", "wg", "zt"};

  public final String code;
  private final List<byte[]> macHashes;

  private Machine(String code, List<byte[]> macHashes) {
    this.code = code;
    this.macHashes = macHashes;
  }

  private static Path root(String rel) {
    String r = System.getenv("LIC_SYSROOT");
    return r != null && !r.isEmpty() ? Path.of(r, rel) : Path.of("/", rel);
  }

  private static String firstLine(Path p) {
    try {
      if (!Files.isRegularFile(p) || Files.size(p) > 1 << 16) {
        return null;
      }
      String s = new String(Files.readAllBytes(p), StandardCharsets.UTF_8);
      int nl = s.indexOf('\n');
      s = (nl < 0 ? s : s.substring(0, nl)).strip();
      if (s.length() > 255) {
        s = s.substring(0, 255).strip();
      }
      return s.isEmpty() ? null : s;
    } catch (IOException e) {
      return null;
    }
  }

  public static String code(String machineId, String productUuid) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update("licsrv machine v1\0".getBytes(StandardCharsets.US_ASCII));
      md.update(("machine-id=" + machineId + "\n").getBytes(StandardCharsets.UTF_8));
      if (productUuid != null && !productUuid.isEmpty()) {
        md.update(("product_uuid=" + productUuid + "\n").getBytes(StandardCharsets.UTF_8));
      }
      byte[] h = md.digest();
      StringBuilder sym = new StringBuilder();
      int acc = 0;
      int bits = 0;
      for (int i = 0; i < 10; i++) {
        acc = (acc << 8) | (h[i] & 0xff);
        bits += 8;
        while (bits >= 5) {
          sym.append(SYMBOLS.charAt((acc >> (bits - 5)) & 31));
          bits -= 5;
        }
      }
      return sym.substring(0, 4) + "-" + sym.substring(4, 8) + "-" + sym.substring(8, 12) + "-"
          + sym.substring(12, 16);
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public static byte[] macHash(byte[] mac6) {
    return Arrays.copyOf(Ed25519.sha256("licsrv mac v1\0".getBytes(StandardCharsets.US_ASCII),
        mac6), 16);
  }

  /** This machine (or LIC_SYSROOT's); throws IOException when no machine id exists. */
  public static Machine read() throws IOException {
    String id = firstLine(root("etc/machine-id"));
    if (id == null) {
      id = firstLine(root("var/lib/dbus/machine-id"));
    }
    if (id == null) {
      throw new IOException("no /etc/machine-id nor /var/lib/dbus/machine-id "
          + "(systemd-machine-id-setup creates one)");
    }
    String uuid = firstLine(root("sys/class/dmi/id/product_uuid"));
    String code = code(id, uuid == null ? null : uuid.toLowerCase(Locale.ROOT));
    List<byte[]> macs = new ArrayList<>();
    Path net = root("sys/class/net");
    if (Files.isDirectory(net)) {
      List<String> names = new ArrayList<>();
      try (Stream<Path> s = Files.list(net)) {
        s.forEach(p -> names.add(p.getFileName().toString()));
      }
      names.sort(null);
      for (String n : names) {
        if (n.startsWith(".") || Arrays.stream(VIRTUAL).anyMatch(n::startsWith)) {
          continue;
        }
        Path dir = net.resolve(n);
        boolean physical = Files.exists(dir.resolve("device"), LinkOption.NOFOLLOW_LINKS)
            && !Files.exists(dir.resolve("bridge"), LinkOption.NOFOLLOW_LINKS);
        String a = physical && macs.size() < 64 ? firstLine(dir.resolve("address")) : null;
        byte[] mac = a == null ? null : parseMac(a);
        if (mac != null) {
          macs.add(macHash(mac));
        }
      }
    }
    return new Machine(code, List.copyOf(macs));
  }

  static byte[] parseMac(String s) {
    if (!s.matches("[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}")) {
      return null;
    }
    String[] p = s.split(":");
    byte[] mac = new byte[6];
    int any = 0;
    for (int i = 0; i < 6; i++) {
      mac[i] = (byte) Integer.parseInt(p[i], 16);
      any |= mac[i];
    }
    return any == 0 ? null : mac;
  }

  /** Code equal (constant time) and at least one MAC hash in the list. */
  public boolean matches(String licCode, List<byte[]> licMacs) {
    if (!MessageDigest.isEqual(code.getBytes(StandardCharsets.US_ASCII),
        licCode.getBytes(StandardCharsets.US_ASCII))) {
      return false;
    }
    boolean any = false;
    for (byte[] m : macHashes) {
      for (byte[] l : licMacs) {
        any |= MessageDigest.isEqual(m, l);
      }
    }
    return any;
  }
}
