package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/tern-cdn/tern/cmd/tern/internal/admin"
	"github.com/tern-cdn/tern/configs"
)

// demoAdminToken writes the demo's admin token to its data directory
// (admin.token_file), unless one is there, and returns the file's path.
func demoAdminToken(t *configs.Topology, dataDir string) (string, error) {
	if _, err := admin.LoadToken(t.Admin, dataDir); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	if filepath.IsAbs(t.Admin.TokenFile) {
		return t.Admin.TokenFile, nil
	}
	return filepath.Join(dataDir, t.Admin.TokenFile), nil
}

// printDemo tells a person what the demo runs and what to try; token is
// the admin token's file.
func printDemo(w io.Writer, nodes running, token string) {
	fmt.Fprintln(w, "Tern demo: every node of configs/demo.yaml is running on loopback.")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tLISTEN\tHTTPS + HTTP/3\tADMIN (/metrics /healthz /readyz /status)")
	root := ""
	for _, n := range nodes.caches {
		tlsAddr := "-"
		if n.TLSListen != "" {
			tlsAddr, root = n.TLSListen, n.CARoot
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Name, n.Role, n.Listen, tlsAddr, n.Admin)
	}
	for _, n := range nodes.dns {
		fmt.Fprintf(tw, "%s\t%s\t%s (udp+tcp)\t%s\t%s\n", n.Name, "dns", n.Listen, "-", n.Admin)
	}
	tw.Flush()
	if root != "" {
		fmt.Fprintf(w, "\nHTTPS certificates come from a local CA; trust its root to use them:\n  %s\n", root)
		fmt.Fprintf(w, "  curl --cacert %s --resolve www.cdn.test:8443:127.0.1.1 https://www.cdn.test:8443/app.js\n", root)
	}
	fmt.Fprintf(w, "\nMutating admin requests (POST /drain) need the admin token, written to\n  %s\n", token)
	fmt.Fprint(w, `
Try:
  # a miss that is stored, then a hit with Age (run it twice)
  curl -si -H 'Host: www.cdn.test' http://127.0.1.1:8080/app.js
  # a range: 206 with exactly 100 bytes
  curl -si -r 0-99 -H 'Host: www.cdn.test' http://127.0.1.1:8080/video/demo.mp4 -o /dev/null -w '%{http_code} %{size_download}\n'
  # a conditional request answered from the cache
  curl -si -H 'Host: www.cdn.test' -H 'If-None-Match: *' http://127.0.1.1:8080/style.css
  # an unknown host: 421, and no upstream request
  curl -si -H 'Host: evil.example' http://127.0.1.1:8080/
  # the site in a browser, through the eu-west edge: map the name first, e.g.
  #   echo '127.0.1.1 www.cdn.test' | sudo tee -a /etc/hosts   then open http://www.cdn.test:8080/
  # or  chromium --host-resolver-rules='MAP www.cdn.test 127.0.1.1' http://www.cdn.test:8080/
  # geo-DNS: the nearest data center for a client network (ECS)
  dig @127.0.0.1 -p 8053 www.cdn.test +subnet=198.51.100.7/24   # us-east: 127.0.2.1
  dig @127.0.0.1 -p 8053 www.cdn.test +subnet=203.0.113.9/24    # ap-southeast: 127.0.3.1
  dig @127.0.0.1 -p 8053 www.cdn.test +subnet=192.0.2.1/24      # eu-west: 127.0.1.1
  # drain a data center and ask again; the health of every edge and data center
  curl -s -X POST -H "Authorization: Bearer $(cat `+token+`)" 'http://127.0.0.1:9103/drain?datacenter=us-east'
  curl -s http://127.0.0.1:9103/status
  curl -s -X POST -H "Authorization: Bearer $(cat `+token+`)" 'http://127.0.0.1:9103/undrain?datacenter=us-east'
  # metrics of an edge
  curl -s http://127.0.1.1:9100/metrics | grep tern_edge_requests_total

Stop with Ctrl-C.
`)
}

// demoPurgeToken gives the demo's site a purge API token: it writes the
// token to <data dir>/purge-token (mode 0600; kept across runs) and its
// hash to the API's purge.tokens_file, and returns the token file's path.
func demoPurgeToken(t *configs.Topology, dataDir string) (string, error) {
	if t.Purge.TokensFile == "" || len(t.Sites) == 0 {
		return "", nil
	}
	path := filepath.Join(dataDir, "purge-token")
	token, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("demo: purge token: %w", err)
		}
		token = []byte(hex.EncodeToString(b))
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return "", fmt.Errorf("demo: %w", err)
		}
		err = os.WriteFile(path, append(token, '\n'), 0o600)
	}
	if err != nil {
		return "", fmt.Errorf("demo: purge token: %w", err)
	}
	sum := sha256.Sum256(bytes.TrimSpace(token))
	tokens := t.Purge.TokensFile
	if !filepath.IsAbs(tokens) {
		tokens = filepath.Join(dataDir, tokens)
	}
	line := fmt.Sprintf("# written by tern demo: the token in %s may purge site %s\nsha256:%s %s\n",
		path, t.Sites[0].Name, hex.EncodeToString(sum[:]), t.Sites[0].Name)
	if err := os.WriteFile(tokens, []byte(line), 0o600); err != nil {
		return "", fmt.Errorf("demo: purge tokens: %w", err)
	}
	return path, nil
}

// printDemoPurge tells how to purge through the demo's API and its edges.
func printDemoPurge(w io.Writer, tokenFile string) {
	if tokenFile == "" {
		return
	}
	fmt.Fprintf(w, `
Purge (the token for site demo is in %[1]s):
  # purge /app.js everywhere and wait until every edge and shield applied it
  tern purge --api http://127.0.0.1:8088 --token-file %[1]s --site demo --url /app.js --wait
  # everything tagged "assets" (Surrogate-Key), or a soft purge (served stale while revalidated)
  tern purge --api http://127.0.0.1:8088 --token-file %[1]s --site demo --tag assets --wait
  tern purge --api http://127.0.0.1:8088 --token-file %[1]s --site demo --url /style.css --soft
  # one URL with the PURGE method at an edge
  curl -si -X PURGE -H "Authorization: Bearer $(cat %[1]s)" -H 'Host: www.cdn.test' http://127.0.1.1:8080/app.js
`, tokenFile)
}
