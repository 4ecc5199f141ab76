// Command ferretdb-launcher runs an embedded FerretDB (MongoDB wire protocol)
// with the SQLite backend, for scripts/devstack.sh. It exists because
// `go install .../cmd/ferretdb` builds a binary that panics at start for a
// missing build/version/version.txt; the embeddable package does not.
//
// Usage: ferretdb-launcher -listen 127.0.0.1:PORT -sqlite-dir DIR [-log-level warn]
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
	"syscall"

	"github.com/FerretDB/FerretDB/build/version"
	"github.com/FerretDB/FerretDB/ferretdb"
)

const ferretModule = "github.com/FerretDB/FerretDB"

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

func main() {
	listen := flag.String("listen", "127.0.0.1:27018", "TCP address to listen on")
	dir := flag.String("sqlite-dir", "", "directory for the SQLite databases (required)")
	level := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	showVersion := flag.Bool("version", false, "print the embedded FerretDB version and exit")
	flag.Parse()

	if *showVersion {
		fmt.Println(ferretVersion())
		return
	}

	if *dir == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "ferretdb-launcher: usage: ferretdb-launcher -listen HOST:PORT -sqlite-dir DIR [-log-level LEVEL]")
		os.Exit(2)
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: bad -log-level %q: %v\n", *level, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %v\n", err)
		os.Exit(1)
	}
	if err = os.MkdirAll(abs, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %v\n", err)
		os.Exit(1)
	}

	if info := version.Get(); info.Version == "unknown" {
		info.Version = ferretVersion() + "+sqlite"
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	fmt.Fprintf(os.Stderr, "ferretdb-launcher: FerretDB %s listening on %s, sqlite dir %s\n",
		ferretVersion(), *listen, abs)

	if err = f.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %v\n", err)
		os.Exit(1)
	}

	fmt.Fprintln(os.Stderr, "ferretdb-launcher: stopped")
}
