// Command tern runs the nodes of a Tern CDN topology.
//
//	tern run --config FILE --node NAME [--data-dir DIR]
//	tern demo [--data-dir DIR]
//	tern purge --api URL --token-file F --site SITE --url PATH [--wait]
//	tern config check FILE
//	tern version
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/tern-cdn/tern/cmd/tern/internal/admin"
	"github.com/tern-cdn/tern/cmd/tern/node"
	"github.com/tern-cdn/tern/configs"
	"github.com/tern-cdn/tern/purge/client"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage:
  tern run --config FILE --node NAME [--data-dir DIR]   run one node of a topology
  tern demo [--data-dir DIR]                            run every node of the demo topology
  tern purge --api URL --token-file F --site SITE [--url P] [--prefix P] [--tag T] [--host H] [--all] [--soft] [--wait]
                                                        purge cached objects through the purge API
  tern config check FILE                                load and validate a topology
  tern version                                          print the version
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tern:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch args[0] {
	case "run":
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		config := fs.String("config", "", "topology file")
		node := fs.String("node", "", "name of the node to run")
		dataDir := fs.String("data-dir", defaultDataDir(), "where caches, keys and state live")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *config == "" || *node == "" {
			return errors.New("run needs --config and --node")
		}
		t, err := configs.Load(*config)
		if err != nil {
			return err
		}
		ref, ok := t.Lookup(*node)
		if !ok {
			return fmt.Errorf("%s: no node named %q", *config, *node)
		}
		return serve(t, []configs.NodeRef{ref}, *dataDir, nil, log, nil)
	case "demo":
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		dataDir := fs.String("data-dir", defaultDataDir(), "where caches, keys and state live")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		t, err := configs.Demo()
		if err != nil {
			return err
		}
		token, err := demoAdminToken(t, *dataDir)
		if err != nil {
			return err
		}
		// The demo's nodes run in one process: they share a secret made
		// for it, unless the topology names one.
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return fmt.Errorf("demo: fleet secret: %w", err)
		}
		purgeToken, err := demoPurgeToken(t, *dataDir)
		if err != nil {
			return err
		}
		return serve(t, t.Nodes(), *dataDir, secret, log, func(nodes running) {
			printDemo(stdout, nodes, token)
			printDemoPurge(stdout, purgeToken)
		})
	case "purge":
		return client.Command(args[1:], stdout, stderr)
	case "config":
		if len(args) != 3 || args[1] != "check" {
			return errors.New("usage: tern config check FILE")
		}
		t, err := configs.Load(args[2])
		if err != nil {
			return err
		}
		if !t.HasAdminToken() {
			fmt.Fprintf(stderr, "WARNING: %s: %s\n", args[2], admin.NoTokenWarning)
		}
		fmt.Fprintf(stdout, "%s: ok (%d sites, %d nodes)\n", args[2], len(t.Sites), len(t.Nodes()))
		return nil
	case "version":
		fmt.Fprintln(stdout, "tern", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// running are the nodes serve started, by kind.
type running struct {
	caches []*node.Node // edges, shields and origins
	dns    []*node.Node
}

// serve builds the nodes, runs them until SIGINT or SIGTERM, and shuts
// them down gracefully. fleetSecret is the nodes' fleet secret when the
// topology names none (nil: none). started runs once every node listens.
func serve(t *configs.Topology, refs []configs.NodeRef, dataDir string, fleetSecret []byte, log *slog.Logger, started func(running)) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		if limit := node.MemoryLimit(t, refs); limit > 0 {
			debug.SetMemoryLimit(limit)
		}
	}
	var nodes running
	var runs []func(context.Context) error
	for i, ref := range refs {
		n, err := node.New(t, ref, node.Options{DataDir: dataDir, Logger: log, ProcessMetrics: i == 0, FleetSecret: fleetSecret})
		if err != nil {
			stop()
			for _, run := range runs {
				run(ctx) // already cancelled: releases its listeners
			}
			return err
		}
		if ref.Role == configs.RoleDNS {
			nodes.dns = append(nodes.dns, n)
		} else {
			nodes.caches = append(nodes.caches, n)
		}
		runs = append(runs, n.Run)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, run := range runs {
		g.Go(func() error { return run(gctx) })
	}
	if started != nil {
		started(nodes)
	}
	return g.Wait()
}

func defaultDataDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "tern")
}
