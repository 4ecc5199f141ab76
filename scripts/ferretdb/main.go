// Command ferretdb-launcher runs an embedded FerretDB (MongoDB wire protocol)
// with the SQLite backend, for scripts/devstack.sh. It exists because
// `go install .../cmd/ferretdb` builds a binary that panics at start for a
// missing build/version/version.txt; the embeddable package does not.
//
// Usage:
//
//	ferretdb-launcher [-listen HOST:PORT] [-listen-tls HOST:PORT -tls-cert-file FILE
//	    -tls-key-file FILE [-tls-ca-file FILE]] [-auth-user USER -auth-password-file FILE
//	    [-auth-database DB]] -sqlite-dir DIR [-log-level warn]
//
// -listen is the plaintext TCP listener, -listen-tls the TLS one (the
// certificate and key in PEM); at least one is needed, and the secure dev
// stack gives only -listen-tls. -tls-ca-file makes the TLS listener ask
// every client for a certificate signed by that CA (FerretDB's
// tlsutil.Config: tls.RequireAndVerifyClientCert); without it, clients
// give none, as with mongo-java-server.
//
// -auth-user turns authentication on: FerretDB's "new authentication"
// (SCRAM-SHA-1 and SCRAM-SHA-256, users in admin.system.users), with that
// user created in -auth-database (default admin) at the first start,
// its password read from -auth-password-file (never on the command line).
// Every command but the handshake ones (hello, buildInfo, ping, saslStart,
// ...) then needs a completed SCRAM conversation, else FerretDB answers
// "Command X requires authentication" (Unauthorized, code 13). Without
// -auth-user, FerretDB 1.24 with SQLite authenticates nobody: it takes any
// PLAIN user and password and stores nothing it could check them against
// (internal/handler/msg_saslstart.go, saslStartPlain).
//
// FerretDB creates the user only when -auth-database does not exist yet
// (internal/handler/handler.go, setup), and a second creation fails on the
// user's _id, so FerretDB would not start again. With admin, which holds
// system.users, the database exists exactly when the user does; with an
// application database, dropping it would leave the user and make the
// next start fail.
//
// Why the module is named github.com/FerretDB/FerretDB/ecomlauncher: the
// embeddable package (ferretdb.Config, ferretdb.New) has no field for
// authentication; ferretdb.New builds the handler with registry.TestOpts
// that leave EnableNewAuth false and no setup user. Those are reachable
// only through FerretDB's internal packages (internal/handler/registry,
// internal/clientconn), which Go lets a module import only from under
// github.com/FerretDB/FerretDB/ (in module mode the "internal" rule goes by
// import path). So this module takes a path under it, and newFerretDB below
// is ferretdb.New of v1.24.2 (ferretdb/ferretdb.go) with the TLS listener
// and the authentication options passed through. go.sum pins v1.24.2: an
// upgrade must check these internal APIs again.
//
// It stops cleanly (listener and backend closed) on SIGTERM or SIGINT.
//
// Embedded, FerretDB answers buildInfo with ferretdbVersion "unknown" (its
// build/version package reads the version only when FerretDB is the main
// module). The launcher sets it to the version of the module it embeds,
// with the backend as semver build metadata: "v1.24.2+sqlite". Clients
// (ecom_store_server(), mongo-ping.py --server) read that as
// "FerretDB 1.24.2 (SQLite)".
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/build/version"
	"github.com/FerretDB/FerretDB/internal/clientconn"
	"github.com/FerretDB/FerretDB/internal/clientconn/connmetrics"
	"github.com/FerretDB/FerretDB/internal/handler/registry"
	"github.com/FerretDB/FerretDB/internal/util/password"
	"github.com/FerretDB/FerretDB/internal/util/state"
)

const ferretModule = "github.com/FerretDB/FerretDB"

const usage = "usage: ferretdb-launcher [-listen HOST:PORT] [-listen-tls HOST:PORT -tls-cert-file FILE -tls-key-file FILE [-tls-ca-file FILE]] " +
	"[-auth-user USER -auth-password-file FILE [-auth-database DB]] -sqlite-dir DIR [-log-level LEVEL]"

// ferretVersion returns the version of the embedded FerretDB module.
func ferretVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == ferretModule {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}

// options of one FerretDB: listeners, backend, authentication
type options struct {
	listen, listenTLS              string
	tlsCert, tlsKey, tlsCA         string
	sqliteURL                      string
	authUser, authDB, authPassword string
	logger                         *slog.Logger
}

// ferretDB is what ferretdb.FerretDB holds: the listener and how to close
// the backend.
type ferretDB struct {
	l            *clientconn.Listener
	closeBackend func()
}

// newFerretDB is ferretdb.New of FerretDB v1.24.2 (ferretdb/ferretdb.go)
// with EnableNewAuth and the setup user set when o.authUser is.
func newFerretDB(o *options) (*ferretDB, error) {
	version.Get().Package = "embedded"

	sp, err := state.NewProvider("")
	if err != nil {
		return nil, fmt.Errorf("failed to construct handler: %s", err)
	}
	// as ferretdb.New: no telemetry, and no startup warning about it
	err = sp.Update(func(s *state.State) {
		s.DisableTelemetry()
		s.TelemetryLocked = true
	})
	if err != nil {
		return nil, fmt.Errorf("failed to construct handler: %s", err)
	}

	metrics := connmetrics.NewListenerMetrics()

	// hello's "me" and the like: the address clients reach
	host := o.listen
	if host == "" {
		host = o.listenTLS
	}

	opts := &registry.NewHandlerOpts{
		Logger:        o.logger,
		ConnMetrics:   metrics.ConnMetrics,
		StateProvider: sp,
		TCPHost:       host,
		SQLiteURL:     o.sqliteURL,
		TestOpts: registry.TestOpts{
			CappedCleanupPercentage: 10,
			BatchSize:               100,
		},
	}
	if o.authUser != "" {
		opts.TestOpts.EnableNewAuth = true
		opts.SetupDatabase = o.authDB
		opts.SetupUsername = o.authUser
		opts.SetupPassword = password.WrapPassword(o.authPassword)
		opts.SetupTimeout = 30 * time.Second
	}

	h, closeBackend, err := registry.NewHandler("sqlite", opts)
	if err != nil {
		if closeBackend != nil {
			closeBackend()
		}
		return nil, fmt.Errorf("failed to construct handler: %s", err)
	}

	l, err := clientconn.Listen(&clientconn.NewListenerOpts{
		TCP:         o.listen,
		TLS:         o.listenTLS,
		TLSCertFile: o.tlsCert,
		TLSKeyFile:  o.tlsKey,
		TLSCAFile:   o.tlsCA,
		Mode:        clientconn.NormalMode,
		Metrics:     metrics,
		Handler:     h,
		Logger:      o.logger,
	})
	if err != nil {
		closeBackend()
		return nil, fmt.Errorf("failed to construct listener: %s", err)
	}

	return &ferretDB{l: l, closeBackend: closeBackend}, nil
}

// run serves until ctx is canceled, then closes the listener, every
// connection and the backend (ferretdb.FerretDB.Run).
func (f *ferretDB) run(ctx context.Context) {
	defer f.closeBackend()
	f.l.Run(ctx)
}

func usageError(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ferretdb-launcher: "+format+"\n", args...)
	fmt.Fprintln(os.Stderr, usage)
	os.Exit(2)
}

func main() {
	var o options
	flag.StringVar(&o.listen, "listen", "", "plaintext TCP address to listen on")
	flag.StringVar(&o.listenTLS, "listen-tls", "", "TLS address to listen on")
	flag.StringVar(&o.tlsCert, "tls-cert-file", "", "the TLS listener's certificate (PEM)")
	flag.StringVar(&o.tlsKey, "tls-key-file", "", "the TLS listener's private key (PEM)")
	flag.StringVar(&o.tlsCA, "tls-ca-file", "", "ask every TLS client for a certificate signed by this CA (PEM)")
	flag.StringVar(&o.authUser, "auth-user", "", "require SCRAM authentication; create this user at the first start")
	flag.StringVar(&o.authDB, "auth-database", "admin", "the database of -auth-user (its authSource)")
	passwordFile := flag.String("auth-password-file", "", "file whose first line is -auth-user's password")
	dir := flag.String("sqlite-dir", "", "directory for the SQLite databases (required)")
	level := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	showVersion := flag.Bool("version", false, "print the embedded FerretDB version and exit")
	flag.Parse()

	if *showVersion {
		fmt.Println(ferretVersion())
		return
	}

	if *dir == "" || flag.NArg() != 0 {
		usageError("-sqlite-dir is required, and no operands are taken")
	}
	if o.listen == "" && o.listenTLS == "" {
		usageError("give -listen, -listen-tls or both")
	}
	if o.listenTLS != "" && (o.tlsCert == "" || o.tlsKey == "") {
		usageError("-listen-tls needs -tls-cert-file and -tls-key-file")
	}
	if o.listenTLS == "" && (o.tlsCert != "" || o.tlsKey != "" || o.tlsCA != "") {
		usageError("-tls-cert-file, -tls-key-file and -tls-ca-file go with -listen-tls")
	}
	if (o.authUser == "") != (*passwordFile == "") {
		usageError("-auth-user and -auth-password-file go together")
	}
	if o.authUser != "" {
		if o.authDB == "" {
			usageError("-auth-database must not be empty")
		}
		b, err := os.ReadFile(*passwordFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ferretdb-launcher: -auth-password-file: %v\n", err)
			os.Exit(1)
		}
		o.authPassword, _, _ = strings.Cut(string(b), "\n")
		if o.authPassword == "" {
			fmt.Fprintf(os.Stderr, "ferretdb-launcher: -auth-password-file %s: the first line is empty\n", *passwordFile)
			os.Exit(1)
		}
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		usageError("bad -log-level %q: %v", *level, err)
	}
	o.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %v\n", err)
		os.Exit(1)
	}
	if err = os.MkdirAll(abs, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %v\n", err)
		os.Exit(1)
	}
	o.sqliteURL = "file:" + abs + "/"

	if info := version.Get(); info.Version == "unknown" {
		info.Version = ferretVersion() + "+sqlite"
	}

	f, err := newFerretDB(&o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var on []string
	if o.listen != "" {
		on = append(on, "TCP "+o.listen)
	}
	if o.listenTLS != "" {
		on = append(on, "TLS "+o.listenTLS)
	}
	auth := "no authentication"
	if o.authUser != "" {
		auth = fmt.Sprintf("SCRAM authentication, user %s in %s", o.authUser, o.authDB)
	}
	fmt.Fprintf(os.Stderr, "ferretdb-launcher: FerretDB %s listening on %s, %s, sqlite dir %s\n",
		ferretVersion(), strings.Join(on, " and "), auth, abs)

	f.run(ctx)

	fmt.Fprintln(os.Stderr, "ferretdb-launcher: stopped")
}
