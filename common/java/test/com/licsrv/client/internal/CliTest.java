package com.licsrv.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The command line's parsing and exit codes (0 ok, 1 not, 2 usage). */
class CliTest {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return new Cli(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8)).run(args);
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void unknownCommandAndOptionAreUsageErrors() {
    assertEquals(2, run("frobnicate"));
    assertEquals("liblic: error: unknown command 'frobnicate' (see 'liblic --help')\n", err());
    err.reset();
    assertEquals(2, run("verify", "--bogus=1"));
    assertEquals("liblic: error: verify: unknown option '--bogus' (see 'liblic verify --help')\n",
        err());
  }

  @Test
  void optionsTakeValuesBothWays() {
    assertEquals(2, run("check", "x.lic", "--domain=a.example.com", "--port"));
    assertTrue(err().contains("'--port' needs a value"), err());
    err.reset();
    assertEquals(2, run("check", "x.lic", "--domain", "a.example.com", "--port", "70000"));
    assertTrue(err().contains("--port: 70000 is outside 1..65535"), err());
  }

  @Test
  void helpGoesToStdoutWithExitZero() {
    assertEquals(0, run("verify", "--help"));
    assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("usage: java -jar liblic.jar verify"));
  }

  @Test
  void aMissingLicenseFileFailsWithExitOne() {
    assertEquals(1, run("check", "/nonexistent/x.lic", "--domain", "a.example.com", "--port", "1"));
    assertEquals("liblic: error: /nonexistent/x.lic: not found: /nonexistent/x.lic: No such file "
        + "or directory\n", err());
  }
}
