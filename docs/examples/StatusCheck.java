// StatusCheck.java - how a Java report server reads the status file of
// `licctl agent` with the JDK alone (docs/integration.md). Compiled and run by
// tests/e2e/test_agent.py when javac is installed.
//
// usage: java StatusCheck STATE_DIR/status.json   (exit 0: serve reports)

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class StatusCheck {
    /** A top-level string field ("state", "reason", "grace_until"), or null. */
    static String field(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key)
                + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(json);
        return m.find() ? m.group(1) : null;
    }

    /** Licensed or in grace, and the file's own deadline not passed: an agent
     *  that died cannot say so, its last grace_until can. */
    static boolean licensed(String json, Instant now) {
        String state = field(json, "state");
        String graceUntil = field(json, "grace_until");
        if (!"licensed".equals(state) && !"grace".equals(state))
            return false;
        return graceUntil != null && now.isBefore(Instant.parse(graceUntil));
    }

    public static void main(String[] args) throws IOException {
        // The agent replaces the file atomically: a read never sees half of it.
        String json = Files.readString(Path.of(args[0]));
        boolean ok = licensed(json, Instant.now());
        System.out.println((ok ? "serve" : "refuse") + " state=" + field(json, "state")
                + " reason=" + field(json, "reason") + " grace_until=" + field(json, "grace_until"));
        System.exit(ok ? 0 : 1);
    }
}
