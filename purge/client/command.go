package client

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/api"
)

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// Command is `tern purge`: it sends one purge and, with --wait, waits
// until every node applied it, with a progress line on stderr, then prints
// each node's state on stdout.
//
//	tern purge --api URL --token-file F --site S --url /app.js [--prefix P] [--tag T] [--all] [--soft] [--wait]
func Command(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tern purge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files, prefixes, tags, hosts list
	apiURL := fs.String("api", "http://127.0.0.1:8088", "purge API base URL")
	tokenFile := fs.String("token-file", "", "file holding the bearer token (or set TERN_PURGE_TOKEN)")
	site := fs.String("site", "", "site to purge (required)")
	fs.Var(&files, "url", "URL or path to purge (repeatable)")
	fs.Var(&prefixes, "prefix", "path prefix to purge (repeatable)")
	fs.Var(&tags, "tag", "surrogate key to purge (repeatable)")
	fs.Var(&hosts, "host", "host of the site to purge entirely (repeatable)")
	all := fs.Bool("all", false, "purge everything of the site")
	soft := fs.Bool("soft", false, "mark stale instead of deleting")
	wait := fs.Bool("wait", false, "wait until every node applied the purge")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long --wait waits")
	key := fs.String("idempotency-key", "", "makes a retried call one purge")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("tern purge: unexpected argument %q", fs.Arg(0))
	}
	token, err := readToken(*tokenFile)
	if err != nil {
		return err
	}
	if *site == "" {
		return errors.New("tern purge: --site is required")
	}
	p := purge.Purge{Site: *site, Files: files, Prefixes: prefixes, Tags: tags, Hosts: hosts, Everything: *all, Soft: *soft}
	if p.Entries() == 0 {
		return errors.New("tern purge: give --url, --prefix, --tag, --host or --all")
	}
	c := &Client{API: *apiURL, Token: token}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	acc, err := c.Purge(ctx, p, *key)
	if err != nil {
		return fmt.Errorf("tern purge: %w", err)
	}
	fmt.Fprintf(stdout, "purge %s accepted\n", acc.ID)
	if !*wait {
		return nil
	}
	st, err := c.Wait(ctx, acc.ID, 100*time.Millisecond, func(st api.Status) { progressLine(stderr, st) })
	fmt.Fprintln(stderr)
	printNodes(stdout, st)
	if err != nil {
		return fmt.Errorf("tern purge: %w", err)
	}
	fmt.Fprintf(stdout, "purge %s complete\n", acc.ID)
	return nil
}

func readToken(file string) (string, error) {
	if file == "" {
		if t := os.Getenv("TERN_PURGE_TOKEN"); t != "" {
			return t, nil
		}
		return "", errors.New("tern purge: --token-file (or TERN_PURGE_TOKEN) is required")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("tern purge: token: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("tern purge: token file %s is empty", file)
	}
	return t, nil
}

// progressLine rewrites one line: how many nodes applied the purge.
func progressLine(w io.Writer, st api.Status) {
	applied := 0
	for _, n := range st.Nodes {
		if n.State == "applied" {
			applied++
		}
	}
	fmt.Fprintf(w, "\rwaiting: %d/%d nodes applied", applied, len(st.Nodes))
}

func printNodes(w io.Writer, st api.Status) {
	for _, n := range st.Nodes {
		fmt.Fprintf(w, "%-24s %s\n", n.Node, n.State)
	}
}
