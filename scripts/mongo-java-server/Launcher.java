/*
 * Launcher: runs mongo-java-server (a MongoDB wire-protocol server in Java)
 * for scripts/devstack.sh, which compiles it once with javac against the
 * jars scripts/mongo-java-server/pom.xml resolves. mongo-java-server ships
 * no main class for its in-memory backend, and its H2 one binds a fixed
 * port.
 *
 *   java -cp 'LIBS/*:CLASSES' Launcher --listen HOST:PORT [--backend memory]
 *   java -cp 'LIBS/*:CLASSES' Launcher --listen HOST:PORT --backend h2 --file PATH
 *                                      [--commit write|background]
 *   java -cp 'LIBS/*:CLASSES' Launcher ... --tls-keystore P12 --tls-password-file FILE
 *   java -cp 'LIBS/*:CLASSES' Launcher --version
 *
 * --tls-keystore serves TLS only (mongo-java-server's enableSsl) with the
 * key and chain of a PKCS12 file, whose password is the first line of
 * --tls-password-file (never a command-line argument: ps shows those).
 * mongo-java-server has no authentication: TLS is all it can give.
 *
 * Two things beyond starting the server:
 *
 * - It names itself. buildInfo answers like a MongoDB 5.0.0 and nothing in
 *   it says mongo-java-server; the launcher adds
 *   {"mongoJavaServer": {"version": "1.47.0", "backend": "memory"}} (backend
 *   "H2" with the file and commit mode), so clients and reports can say
 *   which server they measured.
 *
 * - H2 (--backend h2) keeps what it acknowledged. As it comes, the H2
 *   backend writes to an MVStore that commits in the background about once
 *   a second, so a kill -9 loses the writes of the last second, all of them
 *   acknowledged. With --commit write (the default) every command that
 *   changed something commits the MVStore (the changed pages written to the
 *   file) before its reply goes out: a kill -9 of the server loses no
 *   acknowledged write. A write concern with j: true also forces the file
 *   to disk (fsync), as mongod's journal does, so that write survives a
 *   power loss too. --commit background keeps H2's own behaviour, for
 *   measuring it (doc/store-notes.md).
 *
 * It stops on SIGTERM/SIGINT: clients closed, the H2 store committed and
 * closed. Exit status: 0 ok, 1 cannot start, 2 usage.
 */
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Enumeration;
import java.net.InetSocketAddress;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;
import org.h2.mvstore.MVStore;

public final class Launcher {

    private static final String USAGE =
        "usage: Launcher --listen HOST:PORT [--backend memory|h2] [--file PATH] [--commit write|background]\n"
        + "                [--tls-keystore P12 --tls-password-file FILE]\n"
        + "       Launcher --version";

    private Launcher() {
    }

    /* The version of the mongo-java-server jar this runs (its manifest has none). */
    static String serverVersion() {
        try {
            String jar = new File(MongoServer.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .getName();
            Matcher m = Pattern.compile("^mongo-java-server-core-(.+)\\.jar$").matcher(jar);
            return m.matches() ? m.group(1) : "unknown";
        } catch (URISyntaxException | NullPointerException | SecurityException e) {
            return "unknown";
        }
    }

    static Document withName(Document reply, Document name) {
        if (reply != null) {
            reply.put("mongoJavaServer", name);
        }
        return reply;
    }

    static boolean isBuildInfo(String command) {
        return command.equalsIgnoreCase("buildinfo");
    }

    /* The in-memory backend, naming itself in buildInfo. */
    static final class NamedMemoryBackend extends MemoryBackend {
        private final Document name;

        NamedMemoryBackend(String version) {
            name = new Document("version", version).append("backend", "memory");
        }

        @Override
        public Document handleCommand(Channel channel, String database, String command, Document query) {
            Document reply = super.handleCommand(channel, database, command, query);
            return isBuildInfo(command) ? withName(reply, new Document(name)) : reply;
        }
    }

    /* The H2 backend: names itself, and commits before it acknowledges. */
    static final class DurableH2Backend extends H2Backend {
        private final Document name;
        private final boolean commitEveryWrite;

        DurableH2Backend(String file, String version, boolean commitEveryWrite) {
            super(file);
            this.commitEveryWrite = commitEveryWrite;
            name = new Document("version", version).append("backend", "H2").append("file", file)
                .append("commit", commitEveryWrite ? "write" : "background");
        }

        @Override
        public Document handleCommand(Channel channel, String database, String command, Document query) {
            Document reply;
            try {
                reply = super.handleCommand(channel, database, command, query);
            } finally {
                // also after a failed command: an unordered bulk may have
                // stored part of its documents before an error
                if (commitEveryWrite) {
                    commitIfChanged(query);
                }
            }
            return isBuildInfo(command) ? withName(reply, new Document(name)) : reply;
        }

        /*
         * MVStore.commit() returns at once when nothing changed, so reads
         * cost nothing here. A failed commit throws: the client gets an
         * error, not an acknowledgement.
         */
        private void commitIfChanged(Document query) {
            MVStore store = getMvStore();
            if (store.hasUnsavedChanges()) {
                store.commit();
            }
            if (wantsJournal(query)) {
                store.sync();
            }
        }

        private static boolean wantsJournal(Document query) {
            Object wc = query == null ? null : query.get("writeConcern");
            if (!(wc instanceof Document)) {
                return false;
            }
            Object j = ((Document) wc).get("j");
            return Boolean.TRUE.equals(j) || (j instanceof Number && ((Number) j).intValue() != 0);
        }
    }

    /* TLS with the first key entry of a PKCS12 key store and its chain. */
    static void enableTls(MongoServer server, String keystore, String passwordFile)
        throws IOException, GeneralSecurityException {
        char[] password = Files.readAllLines(Paths.get(passwordFile), StandardCharsets.UTF_8).get(0).toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(keystore)) {
            ks.load(in, password);
        }
        for (Enumeration<String> aliases = ks.aliases(); aliases.hasMoreElements();) {
            String alias = aliases.nextElement();
            if (!ks.isKeyEntry(alias)) {
                continue;
            }
            Certificate[] chain = ks.getCertificateChain(alias);
            X509Certificate[] x509 = new X509Certificate[chain.length];
            for (int i = 0; i < chain.length; i++) {
                x509[i] = (X509Certificate) chain[i];
            }
            server.enableSsl((PrivateKey) ks.getKey(alias, password), null, x509);
            return;
        }
        throw new GeneralSecurityException("no private key in it");
    }

    private static void usage(String problem) {
        System.err.println("mongo-java-server launcher: " + problem);
        System.err.println(USAGE);
        System.exit(2);
    }

    public static void main(String[] args) {
        String listen = null;
        String backend = "memory";
        String file = null;
        String commit = "write";
        String keystore = null;
        String passwordFile = null;

        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--version")) {
                System.out.println(serverVersion());
                return;
            }
            if (i + 1 >= args.length) {
                usage("missing value or unknown option '" + arg + "'");
            }
            switch (arg) {
                case "--listen":
                    listen = args[++i];
                    break;
                case "--backend":
                    backend = args[++i].toLowerCase(Locale.ROOT);
                    break;
                case "--file":
                    file = args[++i];
                    break;
                case "--commit":
                    commit = args[++i];
                    break;
                case "--tls-keystore":
                    keystore = args[++i];
                    break;
                case "--tls-password-file":
                    passwordFile = args[++i];
                    break;
                default:
                    usage("unknown option '" + arg + "'");
            }
        }
        if (listen == null) {
            usage("--listen HOST:PORT is required");
        }
        int colon = listen.lastIndexOf(':');
        int port = -1;
        try {
            port = colon > 0 ? Integer.parseInt(listen.substring(colon + 1)) : -1;
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 1 || port > 65535) {
            usage("bad --listen '" + listen + "': want HOST:PORT");
        }
        String host = listen.substring(0, colon);
        if (!commit.equals("write") && !commit.equals("background")) {
            usage("bad --commit '" + commit + "': want write or background");
        }

        String version = serverVersion();
        final MongoBackend mongoBackend;
        String described;
        switch (backend) {
            case "memory":
                if (file != null) {
                    usage("--file is for --backend h2");
                }
                mongoBackend = new NamedMemoryBackend(version);
                described = "memory";
                break;
            case "h2":
                if (file == null) {
                    usage("--backend h2 needs --file PATH");
                }
                mongoBackend = new DurableH2Backend(file, version, commit.equals("write"));
                described = "H2 " + file + ", commit " + commit;
                break;
            default:
                usage("unknown backend '" + backend + "': want memory or h2");
                return;
        }

        if ((keystore == null) != (passwordFile == null)) {
            usage("--tls-keystore and --tls-password-file go together");
        }
        MongoServer server = new MongoServer(mongoBackend);
        if (keystore != null) {
            try {
                enableTls(server, keystore, passwordFile);
            } catch (IOException | GeneralSecurityException | RuntimeException e) {
                System.err.println("mongo-java-server launcher: cannot use the key store '" + keystore + "': " + e);
                mongoBackend.close();
                System.exit(1);
            }
            described += ", TLS";
        }
        try {
            server.bind(new InetSocketAddress(host, port));
        } catch (RuntimeException e) {
            System.err.println("mongo-java-server launcher: cannot listen on '" + listen + "': " + e.getMessage());
            mongoBackend.close();
            System.exit(1);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownNow();
            System.err.println("mongo-java-server launcher: stopped");
        }, "shutdown"));
        System.err.println("mongo-java-server launcher: mongo-java-server " + version + " (" + described
            + ") listening on " + listen);
    }
}
