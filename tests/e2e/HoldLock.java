// HoldLock - a test helper run as a source file (java HoldLock.java MODE PATH): takes the
// POSIX record lock Java's FileChannel.lock takes, on the whole file, to check that liblic's
// locks exclude it and the reverse. MODE hold: wait for the lock, print "locked", keep it
// until stdin closes. MODE try: print "free" (and release) or "busy" at once.
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

public class HoldLock {
  public static void main(String[] args) throws Exception {
    try (FileChannel ch = FileChannel.open(Path.of(args[1]), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE)) {
      if (args[0].equals("try")) {
        FileLock l = ch.tryLock();
        System.out.println(l == null ? "busy" : "free");
        return;
      }
      ch.lock();
      System.out.println("locked");
      System.out.flush();
      while (System.in.read() >= 0) {
        // held until the test closes stdin
      }
    }
  }
}
