// ReportServer.java - a Java report server licensed by the pure-JDK client
// (build/java/liblic.jar, docs/integration.md): a com.sun.net.httpserver page
// that answers 503 while the license session is unlicensed. Compiled and run
// against a real license server by tests/e2e/test_java_session.py.
//
// usage: java -cp liblic.jar:. ReportServer PORT STATE_DIR TRUST_PEM URL [URL...]

import com.licsrv.client.Session;
import com.licsrv.client.TrustStore;
import com.licsrv.client.Verifier;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;

public final class ReportServer {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        Path state = Path.of(args[1]);
        TrustStore trust = TrustStore.fromFiles(List.of(Path.of(args[2])));
        List<URI> servers = Arrays.stream(args, 3, args.length).map(URI::create).toList();
        ThreadFactory daemon = r -> {
            Thread t = new Thread(r, "license-session");
            t.setDaemon(true);
            return t;
        };

        Verifier verifier = Verifier.newBuilder()
                .trust(trust)                 // TrustStore.builtIn(): the vendor's keys in the jar
                .domain("localhost").port(8443).node("rs-e2e").version("11.0.0")
                .build();
        Session session = Session.newBuilder(verifier, servers)
                .stateDir(state)              // session.state: the last valid verdict, re-checked at start
                .build();
        session.start(Executors.newSingleThreadScheduledExecutor(daemon));

        HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        http.createContext("/", exchange -> {
            boolean off = session.state() == Session.State.UNLICENSED;
            byte[] page = (off ? "unlicensed: reports are off\n" : "reports\n")
                    .getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(off ? 503 : 200, page.length);
            exchange.getResponseBody().write(page);
            exchange.close();
        });
        http.start();
    }
}
